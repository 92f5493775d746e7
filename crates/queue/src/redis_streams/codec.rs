//! Key names, the stream entry's field list, and reading script replies.
//! Kept apart from the driver so the layout is described in one place
//! (see `scripts.rs` for what each key holds).

use redis::Value;
use uuid::Uuid;

use crate::driver::QueueError;
use crate::job::{Job, JobId, NewJob, DEFAULT_MAX_ATTEMPTS};

/// Keys of one app. The `{app}` braces are a Redis Cluster hash tag: every
/// key of an app lands in one slot, so the multi-key scripts stay legal on a
/// cluster too (single-node Redis ignores them).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(app: &str) -> Keys {
        Keys {
            prefix: format!("rocket:q:{{{app}}}:"),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn kind(&self, kind: &str, what: &str) -> String {
        format!("{}{kind}:{what}", self.prefix)
    }

    pub fn stream(&self, kind: &str) -> String {
        self.kind(kind, "stream")
    }

    pub fn delayed(&self, kind: &str) -> String {
        self.kind(kind, "delayed")
    }

    pub fn leases(&self, kind: &str) -> String {
        self.kind(kind, "leases")
    }

    pub fn wake(&self, kind: &str) -> String {
        self.kind(kind, "wake")
    }

    pub fn kind_dead(&self, kind: &str) -> String {
        self.kind(kind, "dead:index")
    }

    /// The dedupe key, or a placeholder in the same slot when there is none
    /// (scripts take a fixed number of keys; the placeholder is never read).
    pub fn dedupe(&self, kind: &str, key: Option<&str>) -> String {
        match key {
            Some(k) => format!("{}{kind}:dedupe:{k}", self.prefix),
            None => format!("{}-", self.prefix),
        }
    }

    pub fn app(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }
}

/// The stream entry of a job: a flat field/value list.
pub fn fields(job: &NewJob, enqueued_at: i64) -> Result<Vec<String>, QueueError> {
    let payload = serde_json::to_string(&job.payload).map_err(|e| QueueError::Other(e.to_string()))?;
    Ok(vec![
        "id".into(),
        job.id.to_string(),
        "kind".into(),
        job.kind.clone(),
        "payload".into(),
        payload,
        "max_attempts".into(),
        job.max_attempts
            .unwrap_or(DEFAULT_MAX_ATTEMPTS)
            .max(1)
            .to_string(),
        "enqueued_at".into(),
        enqueued_at.to_string(),
        "due_at".into(),
        job.run_at.to_string(),
        "dedupe".into(),
        job.dedupe_key.clone().unwrap_or_default(),
    ])
}

pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => text(other)?.parse::<f64>().ok().map(|f| f as i64),
    }
}

pub fn array(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

pub fn id(s: &str) -> Option<JobId> {
    Uuid::parse_str(s).ok()
}

/// One `{entry id, attempt, fields}` triple of the reserve script.
pub fn job(v: &Value, deadline: i64) -> Option<Job> {
    let [entry, attempt, flat] = array(v) else {
        return None;
    };
    let entry = text(entry)?;
    let mut f = std::collections::HashMap::new();
    for pair in array(flat).chunks(2) {
        if let [k, v] = pair {
            f.insert(text(k)?, text(v)?);
        }
    }
    let num = |k: &str| f.get(k).and_then(|s| s.parse::<i64>().ok());
    let payload = f
        .get("payload")
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(serde_json::Value::Null);
    Some(Job {
        id: id(f.get("id")?)?,
        kind: f.get("kind")?.clone(),
        payload,
        attempt: u32::try_from(int(attempt)?).unwrap_or(u32::MAX),
        max_attempts: num("max_attempts")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_ATTEMPTS),
        enqueued_at: num("enqueued_at")?,
        run_at: num("due_at")?,
        dedupe_key: f.get("dedupe").filter(|s| !s.is_empty()).cloned(),
        receipt: format!("{entry}@{deadline}"),
    })
}

/// A receipt back into (entry id, lease deadline).
pub fn receipt(r: &str) -> Option<(&str, &str)> {
    r.split_once('@')
}

/// The URL with any password replaced, for error messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("rediss://:secret@h"), "rediss://:***@h");
    }

    #[test]
    fn keys_share_the_app_hash_tag() {
        let k = Keys::new("shop");
        assert_eq!(k.stream("mail"), "rocket:q:{shop}:mail:stream");
        assert_eq!(k.dedupe("mail", Some("o1")), "rocket:q:{shop}:mail:dedupe:o1");
        assert_eq!(k.app("dead"), "rocket:q:{shop}:dead");
    }
}
