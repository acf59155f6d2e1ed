//! The Kubernetes manifests (deploy/kubernetes): render them with the real `kubectl
//! kustomize` (offline), then check what a broken deployment would get wrong — names,
//! every listener's port against the ConfigMap's warden.yaml, probes, volumes against
//! the config's paths, Secret references for every upstream credential, no privilege —
//! and that the ConfigMap's warden.yaml passes the real `warden check`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_yaml::Value;

const BIN: &str = env!("CARGO_BIN_EXE_warden");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `kubectl kustomize DIR`, parsed into its documents.
fn render(dir: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join(dir))
        .output()
        .expect("kubectl is installed (scripts/test installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split("\n---\n")
        .map(|doc| serde_yaml::from_str(doc).unwrap_or_else(|e| panic!("{e}: {doc}")))
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let all = of_kind(docs, kind);
    assert_eq!(all.len(), 1, "one {kind}");
    all[0]
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().expect("metadata.name")
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

fn port_of(listen: &str) -> u64 {
    listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("listen port")
}

/// The ConfigMap generated from `prefix` (its name carries kustomize's hash suffix).
fn config_map<'a>(docs: &'a [Value], prefix: &str) -> &'a Value {
    of_kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| name(c).starts_with(&format!("{prefix}-")))
        .unwrap_or_else(|| panic!("no ConfigMap {prefix}-<hash>"))
}

fn warden_yaml(docs: &[Value]) -> (String, Value) {
    let text = str_of(
        &config_map(docs, "warden-config")["data"]["warden.yaml"],
        "warden.yaml",
    )
    .to_string();
    let parsed = serde_yaml::from_str(&text).expect("warden.yaml is YAML");
    (text, parsed)
}

fn container(sts: &Value) -> &Value {
    let containers = sts["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// Checks shared by the base and every overlay.
fn check_rendering(docs: &[Value]) {
    let (_, cfg) = warden_yaml(docs);
    let sts = one(docs, "StatefulSet");
    let pod = &sts["spec"]["template"]["spec"];
    let c = container(sts);
    let labels = sts["spec"]["template"]["metadata"]["labels"]
        .as_mapping()
        .expect("pod labels");

    for doc in docs.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(
            doc["metadata"]["namespace"],
            "warden",
            "{} in the warden namespace",
            name(doc)
        );
    }

    // Every listener: a named containerPort, a Service pointing at it, and ingress.
    let mut listeners = vec![(
        "console".to_string(),
        port_of(str_of(&cfg["web"]["listen"], "web.listen")),
    )];
    for t in cfg["targets"].as_sequence().expect("targets") {
        listeners.push((
            str_of(&t["name"], "name").to_string(),
            port_of(str_of(&t["listen"], "listen")),
        ));
    }
    let container_ports = c["ports"].as_sequence().expect("ports");
    let ingress: BTreeSet<u64> = one(docs, "NetworkPolicy")["spec"]["ingress"]
        .as_sequence()
        .expect("ingress")
        .iter()
        .flat_map(|r| r["ports"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|p| p["port"].as_u64())
        .collect();
    for (listener, port) in &listeners {
        let cp = container_ports
            .iter()
            .find(|p| p["name"] == listener.as_str())
            .unwrap_or_else(|| panic!("no containerPort named {listener}"));
        assert_eq!(
            cp["containerPort"].as_u64(),
            Some(*port),
            "containerPort of {listener}"
        );
        let svc_name = if listener == "console" {
            "warden-console".to_string()
        } else {
            format!("warden-{listener}")
        };
        let svc = of_kind(docs, "Service")
            .into_iter()
            .find(|s| name(s) == svc_name)
            .unwrap_or_else(|| panic!("no Service {svc_name}"));
        let sp = &svc["spec"]["ports"][0];
        assert!(
            sp["targetPort"] == listener.as_str() || sp["targetPort"].as_u64() == Some(*port),
            "{svc_name} targets {listener}"
        );
        for (k, v) in svc["spec"]["selector"].as_mapping().expect("selector") {
            assert_eq!(labels.get(k), Some(v), "{svc_name} selects the pods");
        }
        assert!(
            ingress.contains(port),
            "NetworkPolicy lets clients reach {listener} ({port})"
        );
    }
    assert_eq!(
        container_ports.len(),
        listeners.len(),
        "no stray containerPort"
    );

    // Probes: /healthz on the console port, for start-up, liveness and readiness.
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "console", "{probe}");
    }
    assert!(
        c["resources"]["requests"]["cpu"].is_string()
            && c["resources"]["requests"]["memory"].is_string()
    );

    // No privilege.
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert!(
        psc["runAsUser"].as_u64().is_some_and(|u| u != 0),
        "runAsUser"
    );
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    let csc = &c["securityContext"];
    assert_eq!(csc["privileged"], false);
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["capabilities"]["drop"][0], "ALL");
    assert!(csc["capabilities"]["add"].is_null(), "no capability added");
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(pod[key].is_null() || pod[key] == false, "{key}");
    }
    assert_eq!(pod["automountServiceAccountToken"], false);
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    assert!(
        volumes.iter().all(|v| v["hostPath"].is_null()),
        "no hostPath volume"
    );

    // Volumes: the config's paths are where the claims, ConfigMaps and Secret are mounted.
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let mount_of = |path: &str| -> &Value {
        mounts
            .iter()
            .filter(|m| path.starts_with(str_of(&m["mountPath"], "mountPath")))
            .max_by_key(|m| str_of(&m["mountPath"], "mountPath").len())
            .unwrap_or_else(|| panic!("nothing mounted at {path}"))
    };
    let volume = |mount: &Value| -> &Value {
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("volume {:?}", mount["name"]))
    };
    let claims: Vec<&str> = sts["spec"]["volumeClaimTemplates"]
        .as_sequence()
        .expect("volumeClaimTemplates")
        .iter()
        .map(name)
        .collect();
    for key in [
        &cfg["audit"]["path"],
        &cfg["data_dir"],
        &cfg["audit"]["checkpoint_file"],
    ] {
        let m = mount_of(str_of(key, "a state path"));
        assert!(
            claims.contains(&str_of(&m["name"], "mount name")),
            "{key:?} is on a PersistentVolumeClaim"
        );
    }
    assert_ne!(
        mount_of(str_of(&cfg["audit"]["path"], "")),
        mount_of(str_of(&cfg["audit"]["checkpoint_file"], "")),
        "checkpoints on another volume than the store"
    );
    let key_volume = volume(mount_of(str_of(
        &cfg["audit"]["signing_key"],
        "signing_key",
    )));
    assert_eq!(key_volume["secret"]["secretName"], "warden-signing-key");
    let config_mount = mount_of("/etc/warden/warden.yaml");
    assert_eq!(config_mount["readOnly"], true);
    assert_eq!(
        volume(config_mount)["configMap"]["name"].as_str(),
        Some(name(config_map(docs, "warden-config")))
    );
    let policies_mount = mount_of("/etc/warden/policies/x.yaml");
    assert_eq!(
        volume(policies_mount)["configMap"]["name"].as_str(),
        Some(name(config_map(docs, "warden-policies")))
    );
    assert!(
        mounts.iter().any(|m| m["mountPath"] == "/tmp"),
        "a writable /tmp"
    );

    // Every upstream credential comes from a Secret.
    let env = c["env"].as_sequence().expect("env");
    for t in cfg["targets"].as_sequence().expect("targets") {
        if let Some(var) = t["upstream_password_env"].as_str() {
            let e = env
                .iter()
                .find(|e| e["name"] == var)
                .unwrap_or_else(|| panic!("no env {var}"));
            assert!(
                e["valueFrom"]["secretKeyRef"]["name"].is_string(),
                "{var} comes from a Secret"
            );
        }
    }

    // The disruption budget and the network policy cover the pods.
    for kind in ["PodDisruptionBudget", "NetworkPolicy"] {
        let sel = &one(docs, kind)["spec"];
        let sel = if kind == "NetworkPolicy" {
            &sel["podSelector"]
        } else {
            &sel["selector"]
        };
        for (k, v) in sel["matchLabels"].as_mapping().expect("matchLabels") {
            assert_eq!(labels.get(k), Some(v), "{kind} selects the pods");
        }
    }
}

/// `warden check` on the ConfigMap's warden.yaml, with its absolute paths moved into a
/// temporary folder: the shipped packs from this checkout, the ConfigMap's policies,
/// the signing key and upstream secrets as the Secrets would provide them.
fn warden_check(docs: &[Value]) -> (Option<i32>, String) {
    let (text, _) = warden_yaml(docs);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let policies = root.join("etc/warden/policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    for (file, body) in config_map(docs, "warden-policies")["data"]
        .as_mapping()
        .expect("policies data")
    {
        std::fs::write(policies.join(str_of(file, "file")), str_of(body, "policy")).expect("write");
    }
    std::fs::create_dir_all(root.join("etc/warden/keys")).expect("mkdir");
    std::fs::write(
        root.join("etc/warden/keys/audit.key"),
        format!("{}\n", "ab".repeat(32)),
    )
    .expect("key");
    let text = text
        .replace(
            "/usr/share/warden/policies",
            repo().join("policies").to_str().expect("utf8"),
        )
        .replace("/etc/warden/", &format!("{}/etc/warden/", root.display()))
        .replace(
            "/var/lib/warden/",
            &format!("{}/var/lib/warden/", root.display()),
        );
    let cfg = root.join("warden.yaml");
    std::fs::write(&cfg, text).expect("config");
    let mut cmd = Command::new(BIN);
    cmd.args(["check", "--config", cfg.to_str().expect("utf8")]);
    for e in container(one(docs, "StatefulSet"))["env"]
        .as_sequence()
        .expect("env")
    {
        if !e["valueFrom"]["secretKeyRef"].is_null() {
            cmd.env(str_of(&e["name"], "env name"), "from-a-secret");
        } else if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" {
            cmd.env(str_of(&e["name"], "env name"), "warden-0");
        }
    }
    let out = cmd.output().expect("run warden check");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), all)
}

#[test]
fn the_base_renders_with_matching_ports_probes_volumes_and_no_privilege() {
    let docs = render("deploy/kubernetes");
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(kind), "{kind} rendered: {kinds:?}");
    }
    check_rendering(&docs);
    let sts = one(&docs, "StatefulSet");
    assert_eq!(name(sts), "warden");
    assert_eq!(
        sts["spec"]["replicas"], 1,
        "one replica: the audit store is per replica"
    );
    assert!(
        of_kind(&docs, "Service").iter().any(|s| name(s)
            == sts["spec"]["serviceName"].as_str().unwrap_or("")
            && s["spec"]["clusterIP"] == "None"),
        "the governing headless Service exists"
    );
    let grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    let (_, cfg) = warden_yaml(&docs);
    let drain: u64 = str_of(&cfg["shutdown_grace"], "shutdown_grace")
        .trim_end_matches('s')
        .parse()
        .expect("secs");
    assert!(
        grace > drain,
        "Kubernetes waits longer ({grace}s) than Warden drains ({drain}s)"
    );
}

#[test]
fn the_base_config_passes_warden_check() {
    let (code, out) = warden_check(&render("deploy/kubernetes"));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 targets"), "{out}");
}

#[test]
fn the_base_policies_pass_their_own_tests() {
    let out = Command::new(BIN)
        .args(["policy", "test"])
        .arg(repo().join("deploy/kubernetes/base/config/policies"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_fleet_overlay_runs_replicas_with_their_own_ids_and_passes_warden_check() {
    let docs = render("deploy/kubernetes/overlays/fleet");
    check_rendering(&docs);
    let sts = one(&docs, "StatefulSet");
    assert!(
        sts["spec"]["replicas"].as_u64().is_some_and(|r| r > 1),
        "several replicas"
    );
    let env = container(sts)["env"].as_sequence().expect("env");
    let id = env
        .iter()
        .find(|e| e["name"] == "WARDEN_REPLICA_ID")
        .expect("WARDEN_REPLICA_ID");
    assert_eq!(
        id["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
        "the pod's name"
    );
    let (_, cfg) = warden_yaml(&docs);
    assert_eq!(
        cfg["fleet"]["replica_id_env"], "WARDEN_REPLICA_ID",
        "the replica id comes from the pod's name, no config rewrite"
    );
    let var = str_of(&cfg["fleet"]["password_env"], "fleet.password_env");
    assert!(
        env.iter()
            .any(|e| e["name"] == var && e["valueFrom"]["secretKeyRef"].is_mapping()),
        "{var} from a Secret"
    );
    let console = of_kind(&docs, "Service")
        .into_iter()
        .find(|s| name(s) == "warden-console")
        .expect("console");
    assert_eq!(console["spec"]["sessionAffinity"], "ClientIP");
    let (code, out) = warden_check(&docs);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn the_overlay_config_is_the_base_config_plus_fleet() {
    let read = |p: &str| std::fs::read_to_string(repo().join(p)).expect("read");
    let strip = |t: &str| -> Vec<String> {
        let v: Value = serde_yaml::from_str(t).expect("yaml");
        let mut m = v.as_mapping().expect("mapping").clone();
        m.remove("fleet");
        m.iter().map(|(k, v)| format!("{k:?}={v:?}")).collect()
    };
    assert_eq!(
        strip(&read("deploy/kubernetes/base/config/warden.yaml")),
        strip(&read("deploy/kubernetes/overlays/fleet/warden.yaml")),
        "keep the overlay's warden.yaml in step with the base's"
    );
}
