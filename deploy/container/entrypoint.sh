#!/bin/sh
# warden-entrypoint: the container image's entrypoint (deploy/Containerfile).
#
#   warden-entrypoint [serve]      check the config and state folders, then exec
#                                  `warden serve --config $WARDEN_CONFIG` (PID 1, so
#                                  SIGTERM reaches Warden and starts its graceful stop)
#   warden-entrypoint healthcheck  exit 0 when the console answers $WARDEN_HEALTH_URL
#   warden-entrypoint ARGS...      run `warden ARGS...` (check, audit verify, hash-password…)
#
# Environment: WARDEN_BIN (/usr/local/bin/warden), WARDEN_CONFIG
# (/etc/warden/warden.yaml), WARDEN_STATE_DIR (/var/lib/warden: its audit/ and data/ must
# be writable), WARDEN_HEALTH_URL (http://127.0.0.1:8080/healthz). Fleet mode: the
# config's `fleet: replica_id_env: WARDEN_REPLICA_ID` reads the replica's id from the
# environment (a Kubernetes pod's name); the config itself is served unchanged.
# It never starts Warden on a missing config or an unwritable state folder: it exits
# with a sentence naming what to mount (2: config, 1: folders).
set -eu

WARDEN_BIN="${WARDEN_BIN:-/usr/local/bin/warden}"
WARDEN_CONFIG="${WARDEN_CONFIG:-/etc/warden/warden.yaml}"
WARDEN_STATE_DIR="${WARDEN_STATE_DIR:-/var/lib/warden}"
WARDEN_HEALTH_URL="${WARDEN_HEALTH_URL:-http://127.0.0.1:8080/healthz}"

die() {
  code="$1"
  shift
  echo "warden-entrypoint: $*" >&2
  exit "$code"
}

serve() {
  [ -f "$WARDEN_CONFIG" ] && [ -r "$WARDEN_CONFIG" ] ||
    die 2 "no readable config at $WARDEN_CONFIG; mount your warden.yaml there" \
      "(podman/docker: -v ./warden.yaml:$WARDEN_CONFIG:ro; Kubernetes: the warden-config ConfigMap) or set WARDEN_CONFIG"
  for dir in "$WARDEN_STATE_DIR/audit" "$WARDEN_STATE_DIR/data"; do
    mkdir -p "$dir" 2>/dev/null || true
    [ -d "$dir" ] && [ -w "$dir" ] ||
      die 1 "$dir is not a writable folder for uid $(id -u); mount a volume there" \
        "writable by that user (Kubernetes: securityContext.fsGroup)"
  done
  exec "$WARDEN_BIN" serve --config "$WARDEN_CONFIG"
}

case "${1:-serve}" in
  serve)
    [ "$#" -le 1 ] || die 2 "serve takes no arguments (set WARDEN_CONFIG to pick the config)"
    serve
    ;;
  healthcheck)
    # -k: a loopback liveness probe checks that the console answers, not its certificate.
    exec curl -fsS -k --max-time 4 -o /dev/null "$WARDEN_HEALTH_URL"
    ;;
  *)
    exec "$WARDEN_BIN" "$@"
    ;;
esac
