//! One client connection as the server sees it: the socket wrapped so that
//! slow and idle clients are cut off, and hyper's own error answers carry
//! the JSON envelope.
//!
//! hyper (through `axum::serve`) parses requests; it offers a header-read
//! timeout, but on HTTP/1 that timer also runs while a keep-alive connection
//! waits, so it cannot give a short head timeout and a longer idle timeout.
//! [`Activity`] tracks what the connection is doing instead:
//! - waiting for a request head (from connecting, or from the first byte after
//!   a response): at most `server.header_read_timeout_ms`;
//! - idle between requests (keep-alive): at most `server.idle_timeout_secs`;
//! - serving a request (from the handler call to the end of the response
//!   body): no limit here, handlers bound their own work.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use crate::parse_errors;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
}

const NONE: u64 = u64::MAX;

/// Shared by the socket wrapper and the connection's service (see
/// [`InFlight`]). Times are milliseconds since the connection opened.
pub struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// When the request head being read began; `NONE` while idle or serving.
    head_since: AtomicU64,
    last_io: AtomicU64,
    /// Bytes arrived while no request was being served, and no handler has
    /// been called since: hyper could not parse them if it answers now.
    unanswered: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            // A fresh connection owes us a request head.
            head_since: AtomicU64::new(0),
            last_io: AtomicU64::new(0),
            unanswered: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn on_read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self
                .head_since
                .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed);
            self.unanswered.store(true, Ordering::Release);
        }
    }

    fn on_write(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// When the connection must be closed if nothing changes, and why.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Expiry)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_since.load(Ordering::Acquire) {
            NONE => Some((
                self.at(self.last_io.load(Ordering::Relaxed)) + limits.idle,
                Expiry::Idle,
            )),
            since => Some((self.at(since) + limits.header_read, Expiry::Head)),
        }
    }

    pub(crate) fn unanswered(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.unanswered.load(Ordering::Acquire)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Head,
    Idle,
}

/// A request being served: from the handler call until its response body is
/// dropped (sent, or abandoned). Held inside the response body.
pub struct InFlight(Arc<Activity>);

impl InFlight {
    pub fn start(a: &Arc<Activity>) -> Self {
        a.in_flight.fetch_add(1, Ordering::AcqRel);
        a.head_since.store(NONE, Ordering::Release);
        a.unanswered.store(false, Ordering::Release);
        InFlight(a.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.on_write();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The accepted socket. Holds a connection slot until hyper drops it.
pub struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    /// The enveloped replacement of hyper's own error answer, being written.
    replacement: Option<(Vec<u8>, usize)>,
    _slot: OwnedSemaphorePermit,
}

impl<T> Watched<T> {
    pub fn new(io: T, limits: Limits, slot: OwnedSemaphorePermit) -> Self {
        let activity = Arc::new(Activity::new());
        let first = activity.at(0) + limits.header_read;
        Watched {
            io,
            activity,
            limits,
            timer: Box::pin(tokio::time::sleep_until(first)),
            replacement: None,
            _slot: slot,
        }
    }

    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    /// Writes out a pending replacement before anything else.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.replacement {
            if *done == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }

    /// hyper answering an unparsable request by itself (it never calls us for
    /// those): swap in the enveloped answer and report the original as written.
    fn intercept(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<Poll<io::Result<usize>>> {
        if !self.activity.unanswered() {
            return None;
        }
        let replacement = parse_errors::envelope(buf)?;
        self.replacement = Some((replacement, 0));
        match self.poll_replacement(cx) {
            Poll::Ready(Err(e)) => Some(Poll::Ready(Err(e))),
            _ => Some(Poll::Ready(Ok(buf.len()))),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.on_read();
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        let Some((at, why)) = this.activity.deadline(&this.limits) else {
            return Poll::Pending;
        };
        if this.timer.deadline() != at {
            this.timer.as_mut().reset(at);
        }
        ready!(this.timer.as_mut().poll(cx));
        match why {
            // End of stream: hyper closes an idle connection quietly.
            Expiry::Idle => Poll::Ready(Ok(())),
            Expiry::Head => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head not received in time",
            ))),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        if let Some(done) = this.intercept(cx, buf) {
            return done;
        }
        let res = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.on_write();
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        // hyper's own answers are a lone head; only then is a copy worth making.
        if this.activity.unanswered() && bufs.iter().filter(|b| !b.is_empty()).count() == 1 {
            let head: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(done) = this.intercept(cx, &head) {
                return done;
            }
        }
        let res = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.on_write();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
