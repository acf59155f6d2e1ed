//! A small client for the JSON API, used by `warden approvals ...` and `warden policy
//! propose`.
//!
//! It never prints or logs the password; errors carry the server's JSON message.

use std::time::Duration;

use serde_json::Value;

/// Talks to one Warden server as one user.
pub struct ApiClient {
    base: String,
    user: String,
    password: String,
    http: reqwest::Client,
}

/// A failed call: HTTP status (0 when the server was unreachable) and message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub status: u16,
    pub message: String,
}

impl ApiClient {
    pub fn new(base: &str, user: &str, password: &str) -> Result<ApiClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError {
                status: 0,
                message: e.to_string(),
            })?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            user: user.to_string(),
            password: password.to_string(),
            http,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let resp = req
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| ClientError {
                status: 0,
                message: format!("cannot reach {}: {}", self.base, e.without_url()),
            })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(ClientError {
            status: status.as_u16(),
            message,
        })
    }

    /// `GET /api/v1/approvals?state=`; returns the `approvals` array.
    pub async fn list(&self, state: Option<&str>) -> Result<Vec<Value>, ClientError> {
        let mut req = self.http.get(format!("{}/api/v1/approvals", self.base));
        if let Some(s) = state {
            req = req.query(&[("state", s)]);
        }
        let body = self.send(req).await?;
        Ok(body
            .get("approvals")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    pub async fn show(&self, id: &str) -> Result<Value, ClientError> {
        self.send(
            self.http
                .get(format!("{}/api/v1/approvals/{}", self.base, id)),
        )
        .await
    }

    /// `decision`: `approve` or `deny`.
    pub async fn decide(
        &self,
        id: &str,
        decision: &str,
        reason: Option<&str>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}/api/v1/approvals/{}/{}", self.base, id, decision);
        self.send(
            self.http
                .post(url)
                .json(&serde_json::json!({ "reason": reason })),
        )
        .await
    }

    /// `POST /api/v1/policies/proposals`: put `files` (path, whole text) up for review.
    pub async fn propose(
        &self,
        files: &[crate::proposals::ProposedFile],
        reason: Option<&str>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}/api/v1/policies/proposals", self.base);
        self.send(
            self.http
                .post(url)
                .json(&serde_json::json!({ "files": files, "reason": reason })),
        )
        .await
    }
}
