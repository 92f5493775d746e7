//! Per-request tracing glue (semantics.md §18.2): the trace starts once the
//! app is resolved and the request is sampled in, child spans are taken by
//! handlers, and the finished trace goes to the app's event buffer after the
//! response is built. A request refused by authentication is not traced.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use rocket_apps::AppContext;
use rocket_error::Error;
use rocket_events::{AppEvents, Span, Trace};
use uuid::Uuid;

/// The request's trace id (incoming `X-Trace-ID` or new), set first.
#[derive(Clone, Copy)]
pub struct TraceId(pub Uuid);

/// The trace of this request, when it is traced.
pub type Traced = Option<axum::Extension<Arc<Trace>>>;

/// Starts a trace for `req` when instrumentation samples it in.
pub fn begin(app: &AppContext, req: &mut Request) -> Option<(Arc<AppEvents>, Arc<Trace>, Method)> {
    let events = app.ext::<AppEvents>()?;
    if !events.sampled() {
        return None;
    }
    let id = req
        .extensions()
        .get::<TraceId>()
        .map_or_else(Uuid::new_v4, |t| t.0);
    let trace = Trace::new(id);
    req.extensions_mut().insert(trace.clone());
    Some((events, trace, req.method().clone()))
}

/// Hands the finished trace to the buffer (off the request path: a push).
pub fn end(started: Option<(Arc<AppEvents>, Arc<Trace>, Method)>, path: &str, res: &Response) {
    if let Some((events, trace, method)) = started {
        if res.extensions().get::<Untraced>().is_some() {
            return;
        }
        events.record(trace.finish(method.as_str(), path, res.status().as_u16()));
    }
}

/// Marks a response (a refused authentication) as not to be traced.
#[derive(Clone, Copy)]
pub struct Untraced;

/// A child span of the request's trace, if any.
pub fn span(t: &Traced, source: &'static str, component: &'static str, action: &str) -> Option<Span> {
    t.as_ref().map(|t| t.0.span(source, component, action))
}

/// Ends `span` with the outcome of `r`.
pub fn close<T>(span: Option<Span>, r: &Result<T, Error>) {
    if let Some(s) = span {
        s.end(r.as_ref().err().map(|e| e.message.as_str()));
    }
}
