//! The tiny in-process JSON API `warden demo` puts an http target in front of, so a
//! newcomer can try allow / deny / hold with curl and nothing installed.
//!
//! Routes: `GET /v1/users`, `GET|DELETE /v1/users/{id}`, `POST /v1/users`
//! (`{"name": ...}`), `GET|POST|DELETE /admin/...` (echoes what was done), `GET /healthz`.
//! State lives in memory only.
//!
//! Must never: be used as a real upstream; it has no authentication of its own.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[derive(Default)]
struct Users {
    next: u64,
    by_id: BTreeMap<u64, String>,
}

type Shared = Arc<Mutex<Users>>;

/// Serves the sample API on `listener` until the task is dropped.
pub async fn serve_sample_api(listener: TcpListener) -> io::Result<()> {
    let mut users = Users::default();
    for name in ["alice", "bob", "carol"] {
        users.next += 1;
        users.by_id.insert(users.next, name.to_string());
    }
    let shared: Shared = Arc::new(Mutex::new(users));
    loop {
        let (tcp, _) = listener.accept().await?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(shared, req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn reply(status: StatusCode, v: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn route(shared: Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, json!({"error": "too large"})),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut users = shared.lock().unwrap_or_else(|p| p.into_inner());
    match (&method, segments.as_slice()) {
        (&Method::GET, ["healthz"]) => reply(StatusCode::OK, json!({"ok": true})),
        (&Method::GET, ["v1", "users"]) => {
            let list: Vec<Value> = users
                .by_id
                .iter()
                .map(|(id, name)| json!({"id": id, "name": name}))
                .collect();
            reply(StatusCode::OK, json!({ "users": list }))
        }
        (&Method::POST, ["v1", "users"]) => {
            let name = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_string));
            let Some(name) = name else {
                return reply(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "send {\"name\": ...}"}),
                );
            };
            users.next += 1;
            let id = users.next;
            users.by_id.insert(id, name.clone());
            reply(StatusCode::CREATED, json!({"id": id, "name": name}))
        }
        (m, ["v1", "users", id]) => {
            let Ok(id) = id.parse::<u64>() else {
                return reply(StatusCode::NOT_FOUND, json!({"error": "no such user"}));
            };
            match *m {
                Method::GET => match users.by_id.get(&id) {
                    Some(name) => reply(StatusCode::OK, json!({"id": id, "name": name})),
                    None => reply(StatusCode::NOT_FOUND, json!({"error": "no such user"})),
                },
                Method::DELETE => match users.by_id.remove(&id) {
                    Some(name) => {
                        reply(StatusCode::OK, json!({"deleted": {"id": id, "name": name}}))
                    }
                    None => reply(StatusCode::NOT_FOUND, json!({"error": "no such user"})),
                },
                _ => reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    json!({"error": "method not allowed"}),
                ),
            }
        }
        (m, ["admin", ..]) => reply(
            StatusCode::OK,
            json!({"admin": path, "method": m.as_str(), "done": true}),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": "not found", "path": path}),
        ),
    }
}
