//! One request's trace (semantics.md §18.2): the root span and its child
//! spans, collected in memory while the request runs and handed to the
//! app's write buffer in one go when it ends, so recording costs the request
//! a few pushes and no database work.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::row::Event;

pub struct Trace {
    pub trace_id: Uuid,
    pub root_span: Uuid,
    started: Instant,
    started_at: DateTime<Utc>,
    user: OnceLock<Uuid>,
    spans: Mutex<Vec<Event>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Trace {
    pub fn new(trace_id: Uuid) -> Arc<Trace> {
        Arc::new(Trace {
            trace_id,
            root_span: Uuid::new_v4(),
            started: Instant::now(),
            started_at: Utc::now(),
            user: OnceLock::new(),
            spans: Mutex::new(Vec::new()),
        })
    }

    /// The authenticated caller: filled on every span of the trace.
    pub fn set_user(&self, id: &str) {
        if let Ok(u) = Uuid::parse_str(id) {
            let _ = self.user.set(u);
        }
    }

    pub fn user(&self) -> Option<Uuid> {
        self.user.get().copied()
    }

    /// A child span of the root, running from now until [`Span::end`].
    pub fn span(self: &Arc<Self>, source: &'static str, component: &'static str, action: &str) -> Span {
        Span {
            trace: self.clone(),
            source,
            component,
            action: action.to_string(),
            entity: None,
            record_id: None,
            metadata: Map::new(),
            started: Instant::now(),
            started_at: Utc::now(),
        }
    }

    /// The root span (`http/handler/request`) and every child, in the order
    /// they ended, with the caller filled in.
    pub fn finish(&self, method: &str, path: &str, status_code: u16) -> Vec<Event> {
        let user = self.user();
        let mut meta = Map::new();
        meta.insert("method".into(), Json::from(method));
        meta.insert("path".into(), Json::from(path));
        meta.insert("status_code".into(), Json::from(status_code));
        if let Some(u) = user {
            meta.insert("user_id".into(), Json::from(u.to_string()));
        }
        let mut out = Vec::new();
        out.push(Event {
            trace_id: self.trace_id,
            span_id: self.root_span,
            parent_span_id: None,
            event_type: "system",
            source: "http".into(),
            component: "handler".into(),
            action: "request".into(),
            entity: None,
            record_id: None,
            user_id: user,
            duration_ms: Some(ms(self.started)),
            status: Some(if status_code >= 400 { "error" } else { "ok" }),
            metadata: Some(meta),
            created_at: self.started_at,
        });
        let mut spans = std::mem::take(&mut *lock(&self.spans));
        for s in &mut spans {
            s.user_id = s.user_id.or(user);
        }
        out.extend(spans);
        out
    }
}

fn ms(since: Instant) -> f64 {
    // Float milliseconds at microsecond resolution.
    since.elapsed().as_micros() as f64 / 1000.0
}

/// A child span being timed.
pub struct Span {
    trace: Arc<Trace>,
    source: &'static str,
    component: &'static str,
    action: String,
    entity: Option<String>,
    record_id: Option<String>,
    metadata: Map<String, Json>,
    started: Instant,
    started_at: DateTime<Utc>,
}

impl Span {
    pub fn entity(mut self, entity: &str) -> Span {
        self.entity = Some(entity.to_string());
        self.metadata.insert("entity".into(), Json::from(entity));
        self
    }

    pub fn record(mut self, id: Option<&str>) -> Span {
        if let Some(id) = id {
            self.record_id = Some(id.to_string());
            self.metadata.insert("record_id".into(), Json::from(id));
        }
        self
    }

    pub fn meta(mut self, key: &str, value: impl Into<Json>) -> Span {
        self.metadata.insert(key.to_string(), value.into());
        self
    }

    /// Ends the span; `error` marks it failed and is kept in its metadata.
    pub fn end(mut self, error: Option<&str>) {
        if let Some(e) = error {
            self.metadata.insert("error".into(), Json::from(e));
        }
        let event = Event {
            trace_id: self.trace.trace_id,
            span_id: Uuid::new_v4(),
            parent_span_id: Some(self.trace.root_span),
            event_type: "system",
            source: self.source.into(),
            component: self.component.into(),
            action: std::mem::take(&mut self.action),
            entity: self.entity.take(),
            record_id: self.record_id.take(),
            user_id: self.trace.user(),
            duration_ms: Some(ms(self.started)),
            status: Some(if error.is_some() { "error" } else { "ok" }),
            metadata: Some(std::mem::take(&mut self.metadata)),
            created_at: self.started_at,
        };
        lock(&self.trace.spans).push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_hang_under_the_root_and_carry_the_user() {
        let t = Trace::new(Uuid::new_v4());
        t.span("engine", "handler", "record.get")
            .entity("order")
            .record(Some("7"))
            .end(None);
        t.set_user("6f1c2a52-7d0e-4c1b-9a57-2b7f1d2e6c90");
        t.span("auth", "permissions", "permission.check")
            .end(Some("denied"));
        let ev = t.finish("GET", "/api/a/order/7", 403);
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].action, "request");
        assert_eq!(ev[0].status, Some("error"));
        assert!(ev[0].parent_span_id.is_none());
        assert!(ev[1..].iter().all(|e| e.parent_span_id == Some(t.root_span)));
        assert!(ev.iter().all(|e| e.user_id.is_some() && e.trace_id == t.trace_id));
        assert_eq!(ev[1].record_id.as_deref(), Some("7"));
        assert_eq!(ev[2].status, Some("error"));
        assert!(ev[0].metadata.as_ref().is_some_and(|m| m["status_code"] == 403));
    }
}
