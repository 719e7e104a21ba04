//! The accept loop: HTTP/1 connections with a header-read timeout, a cap on open connections,
//! and graceful shutdown; and the whole-request timeout.
//!
//! `axum::serve` sets no header-read timeout, so a client that sends half a request line and
//! stalls holds a connection (and its task) for ever; 300 of them held 300 for ever. Here each
//! connection is served by hyper's HTTP/1 connection with `header_read_timeout`: a connection
//! that has not sent a request's complete headers within the timeout, counted from when the
//! server starts waiting for them (so also while it idles between requests), is closed. At most
//! `max_connections` are open at once; the loop accepts the next one only when one has closed,
//! and the rest wait in the kernel's listen backlog.
//!
//! Invariants: every connection holds one permit of the semaphore until it is closed; on
//! shutdown the loop stops accepting first, then tells each open connection to finish its
//! request in flight and close, and returns when all have closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::Protection;
use crate::codes::ErrorCode;
use crate::error::ApiError;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and returns when
/// every open connection has finished its request in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    protection: &Protection,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(protection.max_connections.0));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(protection.header_timeout.0);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A header timeout, a client that went away, a malformed request: the
                // connection's business, not the server's.
                tracing::debug!(%error, %peer, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// After a failed `accept`: a connection that failed before it was accepted is nothing to wait
/// for; anything else (out of file descriptors) is logged and the loop waits a moment, so it
/// does not spin.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The whole-request timeout: a request whose answer is not ready within `timeout` (a slow
/// handler, a body sent too slowly) is dropped and answered 503 `request_timeout` with
/// `Retry-After: 1`. A command dropped this way has either committed or appended nothing (its
/// transaction is rolled back when dropped); a client retrying with its `Idempotency-Key`
/// gets the committed answer.
pub async fn request_timeout(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?timeout, "request timed out");
            ApiError::unavailable(
                ErrorCode::RequestTimeout,
                "the request did not complete within the server's request timeout",
                1,
            )
            .into_response()
        }
    }
}
