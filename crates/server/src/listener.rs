//! The listener handed to `axum::serve`: at most `server.max_connections`
//! open connections (further clients wait in the kernel's listen backlog,
//! which costs no memory here), each socket wrapped in [`Watched`], and a
//! per-connection service that tells the wrapper when a request is served.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::Service;

use crate::conn::{Activity, InFlight, Limits, Watched};

pub struct CappedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    limits: Limits,
}

impl CappedListener {
    pub fn new(inner: TcpListener, max_connections: usize, limits: Limits) -> Self {
        CappedListener {
            inner,
            slots: Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS))),
            limits,
        }
    }
}

impl Listener for CappedListener {
    type Io = Watched<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // A slot first, then the connection: over the cap we stop accepting.
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            // The semaphore is never closed.
            return std::future::pending().await;
        };
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => return (Watched::new(io, self.limits, slot), addr),
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors and the like: let some close.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Makes one [`Tracked`] service per connection, bound to its [`Activity`].
#[derive(Clone)]
pub struct PerConnection<S>(pub S);

impl<S: Clone> Service<IncomingStream<'_, CappedListener>> for PerConnection<S> {
    type Response = Tracked<S>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Tracked<S>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, conn: IncomingStream<'_, CappedListener>) -> Self::Future {
        std::future::ready(Ok(Tracked {
            inner: self.0.clone(),
            activity: conn.io().activity().clone(),
        }))
    }
}

#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S, B> Service<Request> for Tracked<S>
where
    S: Service<Request, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let serving = InFlight::start(&self.activity);
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            Ok(res.map(|body| {
                Body::new(Serving {
                    body,
                    _serving: serving,
                })
            }))
        })
    }
}

/// A response body that keeps its request counted as served until dropped.
struct Serving<B> {
    body: B,
    _serving: InFlight,
}

impl<B: HttpBody + Unpin> HttpBody for Serving<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
