//! The node's one HTTP client for webhooks (pooled keep-alive connections,
//! HTTP/2 where a TLS receiver offers it), the `{{env.NAME}}` header
//! templates, and one attempt: a deadline over the whole exchange and a cap
//! on the response bytes read, so a receiver that hangs, streams 10 MB or
//! drops the connection costs at most the timeout and the cap.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Method;

use crate::guard;

/// `{{env.NAME}}` replaced by the environment variable (empty when unset).
pub fn resolve_env(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + len].trim();
        match inner.strip_prefix("env.") {
            Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push_str(&rest[..start]);
                out.push_str(&std::env::var(name).unwrap_or_default());
            }
            _ => out.push_str(&rest[..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// What one attempt produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The HTTP status; None when no response came (network, timeout).
    pub status: Option<u16>,
    /// The first `response_limit_bytes` of the body, lossy UTF-8.
    pub body: String,
    /// Empty on success; else the network error or `HTTP <code>`.
    pub error: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    pub fn failed(error: impl Into<String>) -> Outcome {
        Outcome {
            error: error.into(),
            ..Outcome::default()
        }
    }
}

pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Resolved header values.
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
    limit: usize,
    guard: bool,
}

impl Client {
    pub fn new(timeout: Duration, limit: usize, per_host: usize, guard: bool) -> Result<Client, String> {
        let mut b = reqwest::Client::builder()
            .pool_max_idle_per_host(per_host.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent("Rocket-Webhooks/1");
        b = if guard {
            b.dns_resolver(Arc::new(guard::GuardedResolver))
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 5 {
                        attempt.error("too many redirects")
                    } else if guard::forbidden_host(attempt.url()) {
                        attempt
                            .error("redirect to a private or local address refused (webhooks.block_private)")
                    } else {
                        attempt.follow()
                    }
                }))
        } else {
            b.redirect(reqwest::redirect::Policy::limited(5))
        };
        let http = b.build().map_err(|e| format!("webhook HTTP client: {e}"))?;
        Ok(Client {
            http,
            timeout,
            limit,
            guard,
        })
    }

    /// One attempt; never longer than the timeout, never more than the cap
    /// held in memory.
    pub async fn send(&self, req: Request<'_>) -> Outcome {
        match tokio::time::timeout(self.timeout, self.exchange(req)).await {
            Ok(o) => o,
            Err(_) => Outcome::failed(format!("timed out after {}s", self.timeout.as_secs())),
        }
    }

    async fn exchange(&self, req: Request<'_>) -> Outcome {
        let url = match url::Url::parse(req.url) {
            Ok(u) => u,
            Err(e) => return Outcome::failed(format!("invalid url: {e}")),
        };
        if self.guard && guard::forbidden_host(&url) {
            return Outcome::failed("target is a private or local address (webhooks.block_private)");
        }
        let method = match Method::from_bytes(req.method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return Outcome::failed(format!("invalid method {}", req.method)),
        };
        let mut headers = HeaderMap::with_capacity(req.headers.len() + 1);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (k, v) in &req.headers {
            let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v))
            else {
                return Outcome::failed(format!("invalid header {k}"));
            };
            headers.insert(name, value);
        }
        let sent = self
            .http
            .request(method, url)
            .headers(headers)
            .body(req.body)
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return Outcome::failed(describe(&e)),
        };
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.limit.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= self.limit {
                        break; // the rest is not read; the connection is dropped
                    }
                }
                Ok(None) => break,
                // The status counts; a body cut short is kept as far as it came.
                Err(_) => break,
            }
        }
        let ok = (200..300).contains(&status);
        Outcome {
            status: Some(status),
            body: String::from_utf8_lossy(&body).into_owned(),
            error: if ok {
                String::new()
            } else {
                format!("HTTP {status}")
            },
        }
    }
}

/// The error chain in one line ("error sending request: connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::resolve_env;

    #[test]
    fn env_templates_resolve_and_unknown_text_stays() {
        std::env::set_var("ROCKET_HOOKS_TEST_KEY", "s3cret");
        assert_eq!(
            resolve_env("Bearer {{env.ROCKET_HOOKS_TEST_KEY}}"),
            "Bearer s3cret"
        );
        assert_eq!(resolve_env("{{ env.ROCKET_HOOKS_TEST_KEY }}!"), "s3cret!");
        assert_eq!(resolve_env("x{{env.ROCKET_HOOKS_UNSET_VAR}}y"), "xy");
        assert_eq!(resolve_env("{{other}} and {{env.}}"), "{{other}} and {{env.}}");
        assert_eq!(resolve_env("open {{env.X"), "open {{env.X");
    }
}
