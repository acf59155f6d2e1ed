//! `/events`: server-sent events, one `approval` event per transition, so the inbox
//! and request pages update without reloading. Events carry only id and state; the
//! page fetches the server-rendered fragment (with the viewer's permissions).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::app::App;
use crate::auth::Authed;

pub async fn events(
    State(app): State<App>,
    _who: Authed,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.state().approvals.subscribe();
    let stop = app.shutdown_signal();
    let stream = futures::stream::unfold((rx, stop), |(mut rx, mut stop)| async move {
        if *stop.borrow() {
            return None;
        }
        let next = tokio::select! {
            next = rx.recv() => next,
            _ = stop.changed() => return None,
        };
        let data = match next {
            Ok(req) => serde_json::json!({"id": req.id, "state": req.state.as_str()}),
            // Missed some: the page refreshes everything.
            Err(RecvError::Lagged(_)) => serde_json::json!({"id": null, "state": "lagged"}),
            Err(RecvError::Closed) => return None,
        };
        let event = Event::default().event("approval").data(data.to_string());
        Some((Ok(event), (rx, stop)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
