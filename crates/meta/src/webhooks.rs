//! Webhooks compiled into the snapshot (metadata.md §8): hook and backoff as
//! enums, the condition as a compiled expression, ready for the dispatcher.

use rocket_expr::Expr;
use serde_json::Value as Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    BeforeWrite,
    AfterWrite,
    BeforeDelete,
    AfterDelete,
}

impl Hook {
    pub fn parse(s: &str) -> Option<Hook> {
        Some(match s {
            "before_write" => Hook::BeforeWrite,
            "after_write" => Hook::AfterWrite,
            "before_delete" => Hook::BeforeDelete,
            "after_delete" => Hook::AfterDelete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::BeforeWrite => "before_write",
            Hook::AfterWrite => "after_write",
            Hook::BeforeDelete => "before_delete",
            Hook::AfterDelete => "after_delete",
        }
    }

    /// `before_*` hooks fire only sync webhooks, `after_*` only async ones.
    pub fn fires_async(self) -> bool {
        matches!(self, Hook::AfterWrite | Hook::AfterDelete)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Exponential,
    Linear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub max_attempts: u32,
    pub backoff: Backoff,
}

/// A webhook's signing secrets (`whsec_…`, Standard Webhooks). Never
/// serialized: only the deliverer reads them.
#[derive(Clone, Default)]
pub struct Secrets {
    pub current: Option<String>,
    /// The secret before the last rotation; it signs too until `previous_until`.
    pub previous: Option<String>,
    pub previous_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Secrets(set: {}, previous: {})",
            self.current.is_some(),
            self.previous.is_some()
        )
    }
}

impl Secrets {
    /// The secrets that sign a delivery made at `now`, newest first.
    pub fn signing(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<&str> {
        let mut out: Vec<&str> = self.current.iter().map(String::as_str).collect();
        if let (Some(p), Some(until)) = (&self.previous, self.previous_until) {
            if now < until {
                out.push(p);
            }
        }
        out
    }
}

#[derive(Debug)]
pub struct Webhook {
    pub id: String,
    pub entity: String,
    pub hook: Hook,
    pub url: String,
    pub method: String,
    /// Header templates as stored (`{{env.NAME}}` resolved at delivery, so
    /// no secret is ever persisted).
    pub headers: Vec<(String, String)>,
    /// None = always fires.
    pub condition: Option<Expr>,
    pub is_async: bool,
    pub retry: Retry,
    pub secrets: Secrets,
}

impl Webhook {
    pub fn with_secrets(mut self, secrets: Secrets) -> Webhook {
        self.secrets = secrets;
        self
    }

    /// Whether this webhook takes part in `hook` (active filtering is done
    /// by the loader).
    pub fn fires_on(&self, hook: Hook) -> bool {
        self.hook == hook && self.is_async == hook.fires_async()
    }
}

/// Compiles one stored webhook; None (logged) when its hook is unknown or its
/// condition no longer compiles.
#[allow(clippy::too_many_arguments)]
pub fn compile_webhook(
    id: String,
    entity: String,
    hook: &str,
    url: String,
    method: String,
    headers: &Json,
    condition: &str,
    is_async: bool,
    retry: &Json,
) -> Option<Webhook> {
    let Some(hook) = Hook::parse(hook) else {
        tracing::warn!(webhook = %id, hook, "stored webhook has an unknown hook; skipped");
        return None;
    };
    let condition = match condition.trim() {
        "" => None,
        src => match Expr::compile(src) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(webhook = %id, error = %e, "stored webhook condition does not compile; skipped");
                return None;
            }
        },
    };
    let headers = headers
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), String::from)))
                .collect()
        })
        .unwrap_or_default();
    let retry = Retry {
        max_attempts: retry
            .get("max_attempts")
            .and_then(Json::as_u64)
            .map_or(3, |n| n.min(100) as u32),
        backoff: match retry.get("backoff").and_then(Json::as_str) {
            Some("linear") => Backoff::Linear,
            _ => Backoff::Exponential,
        },
    };
    Some(Webhook {
        id,
        entity,
        hook,
        url,
        method: if method.is_empty() {
            "POST".into()
        } else {
            method.to_uppercase()
        },
        headers,
        condition,
        is_async,
        retry,
        secrets: Secrets::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiles_and_filters_by_hook() {
        let w = compile_webhook(
            "1".into(),
            "order".into(),
            "after_write",
            "https://x.test".into(),
            "".into(),
            &json!({"X-Key": "{{env.KEY}}"}),
            "record.total > 10",
            true,
            &json!({"max_attempts": 5, "backoff": "linear"}),
        )
        .expect("compiles");
        assert_eq!(w.method, "POST");
        assert_eq!(w.headers, vec![("X-Key".to_string(), "{{env.KEY}}".to_string())]);
        assert_eq!(
            w.retry,
            Retry {
                max_attempts: 5,
                backoff: Backoff::Linear
            }
        );
        assert!(w.fires_on(Hook::AfterWrite));
        assert!(!w.fires_on(Hook::BeforeWrite));
        let sync_after = compile_webhook(
            "2".into(),
            "o".into(),
            "after_write",
            "u".into(),
            "PUT".into(),
            &json!({}),
            "",
            false,
            &json!({}),
        )
        .expect("compiles");
        assert!(
            !sync_after.fires_on(Hook::AfterWrite),
            "a sync after_write webhook never fires"
        );
        assert!(compile_webhook(
            "3".into(),
            "o".into(),
            "sometimes",
            "u".into(),
            "".into(),
            &json!({}),
            "",
            true,
            &json!({})
        )
        .is_none());
        assert!(compile_webhook(
            "4".into(),
            "o".into(),
            "after_write",
            "u".into(),
            "".into(),
            &json!({}),
            "1 +",
            true,
            &json!({})
        )
        .is_none());
    }
}
