//! The query endpoints of semantics.md §18.5 (list, trace tree, stats) and
//! retention (§18.4).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rocket_error::{Error, Result};
use rocket_store::{format_timestamp, parse_timestamp, Db, Row, Value};
use serde_json::{json, Map, Value as Json};

use crate::statements::{self as q, Percentile};

/// The API's JSON of a stored event.
pub fn render(r: &Row) -> Json {
    let text = |k: &str| r.str(k).map_or(Json::Null, Json::String);
    let duration = match r.value("duration_ms") {
        Value::Float(f) => json!(f),
        Value::Int(i) => json!(*i as f64),
        _ => Json::Null,
    };
    let metadata = match r.json("metadata") {
        Json::Object(m) => Json::Object(m),
        _ => Json::Null,
    };
    json!({
        "id": text("id"),
        "trace_id": text("trace_id"),
        "span_id": text("span_id"),
        "parent_span_id": text("parent_span_id"),
        "event_type": text("event_type"),
        "source": text("source"),
        "component": text("component"),
        "action": text("action"),
        "entity": text("entity"),
        "record_id": text("record_id"),
        "user_id": text("user_id"),
        "duration_ms": duration,
        "status": text("status"),
        "metadata": metadata,
        "created_at": r.timestamp("created_at").map_or(Json::Null, |t| json!(format_timestamp(&t))),
    })
}

/// `LIKE` pattern of a trailing-`*` prefix, with the wildcards escaped.
fn prefix_pattern(action: &str) -> Option<String> {
    let p = action.strip_suffix('*')?;
    let escaped = p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Some(format!("{escaped}%"))
}

fn time_param(params: &HashMap<String, String>, key: &str, default: DateTime<Utc>) -> Result<DateTime<Utc>> {
    match params.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => {
            parse_timestamp(s).ok_or_else(|| Error::invalid_payload(format!("Invalid {key} timestamp: {s}")))
        }
    }
}

fn window(params: &HashMap<String, String>) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    // Open ends as years both stores hold and order as text (SQLite).
    let from = time_param(
        params,
        "from",
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
    )?;
    let to = time_param(
        params,
        "to",
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or_default(),
    )?;
    Ok((from, to))
}

/// `GET /_events`: `(rows, page, per_page, total)`.
pub async fn list(db: &Db, params: &HashMap<String, String>) -> Result<(Vec<Json>, i64, i64, i64)> {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let action = get("action");
    let (exact, like) = match prefix_pattern(&action) {
        Some(p) => (String::new(), p),
        None => (action, String::new()),
    };
    let (from, to) = window(params)?;
    let page = get("page").parse::<i64>().ok().filter(|p| *p >= 1).unwrap_or(1);
    let per_page = match get("per_page").parse::<i64>() {
        Ok(n) if n >= 1 => n.min(100),
        _ => 50,
    };
    let ascending = get("sort") == "created_at";
    let mut p = vec![
        Value::Text(get("source")),
        Value::Text(get("component")),
        Value::Text(exact),
        Value::Text(like),
        Value::Text(get("entity")),
        Value::Text(get("event_type")),
        Value::Text(get("trace_id")),
        Value::Text(get("user_id")),
        Value::Text(get("status")),
        Value::Timestamp(from),
        Value::Timestamp(to),
    ];
    let count_params = p.clone();
    p.push(Value::Int(per_page));
    p.push(Value::Int((page - 1).saturating_mul(per_page)));
    // One round trip on PostgreSQL (pipelined), back to back on SQLite.
    let mut res = db
        .query_many(&[(q::list(ascending), &p), (q::COUNT, &count_params)])
        .await?
        .into_iter();
    let rows = res.next().unwrap_or_default();
    let total = res
        .next()
        .and_then(|c| c.into_iter().next())
        .and_then(|r| r.i64("n"))
        .unwrap_or(0);
    Ok((
        rows.into_iter().map(|r| render(&r)).collect(),
        page,
        per_page,
        total,
    ))
}

/// `GET /_events/trace/:id`: the tree, or 404 when the trace has no events.
pub async fn trace(db: &Db, trace_id: &str) -> Result<Json> {
    let not_found = || Error::not_found(format!("Trace not found: {trace_id}"));
    let id = uuid::Uuid::parse_str(trace_id).map_err(|_| not_found())?;
    let rows = db.query(q::TRACE, &[Value::Uuid(id)]).await?;
    if rows.is_empty() {
        return Err(not_found());
    }
    let spans: Vec<Json> = rows.into_iter().map(|r| render(&r)).collect();
    let root = spans
        .iter()
        .find(|s| s["parent_span_id"].is_null())
        .or_else(|| spans.first())
        .cloned()
        .unwrap_or(Json::Null);
    let root_tree = nest(&root, &spans, 0);
    Ok(json!({
        "trace_id": id.to_string(),
        "root_span": root_tree,
        "spans": spans.iter().map(|s| nest(s, &spans, 0)).collect::<Vec<_>>(),
        "total_duration_ms": root["duration_ms"],
    }))
}

/// `event` with `children`: its child events, recursively (depth-bounded,
/// so a cycle in stored ids cannot recurse forever).
fn nest(event: &Json, all: &[Json], depth: usize) -> Json {
    let mut e = event.clone();
    let children: Vec<Json> = if depth > 64 {
        Vec::new()
    } else {
        all.iter()
            .filter(|c| !c["parent_span_id"].is_null() && c["parent_span_id"] == event["span_id"])
            .map(|c| nest(c, all, depth + 1))
            .collect()
    };
    if let Json::Object(m) = &mut e {
        m.insert("children".into(), Json::Array(children));
    }
    e
}

fn float(r: &Row, k: &str) -> Option<f64> {
    match r.value(k) {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::Text(s) => s.parse().ok(),
        _ => None,
    }
}

/// Element ⌊0.95·n⌋ of sorted durations (the contract's SQLite rule).
fn p95_of(sorted: &[f64]) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64) * 0.95).floor() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied()
}

fn durations(rows: rocket_store::Rows) -> Vec<f64> {
    rows.into_iter().filter_map(|r| float(&r, "d")).collect()
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// `GET /_events/stats`.
pub async fn stats(db: &Db, params: &HashMap<String, String>) -> Result<Json> {
    let (from, to) = window(params)?;
    let entity = params.get("entity").cloned().unwrap_or_default();
    let w = [Value::Timestamp(from), Value::Timestamp(to), Value::Text(entity)];
    let totals = db.query_opt(q::STATS_TOTALS, &w).await?;
    let total = totals.as_ref().and_then(|r| r.i64("total")).unwrap_or(0);
    let errors = totals.as_ref().and_then(|r| r.i64("errors")).unwrap_or(0);
    let avg = totals.as_ref().and_then(|r| float(r, "avg_ms"));
    let (p95, by_source) = match q::stats(db) {
        Percentile::InQuery {
            total: p95_sql,
            by_source,
        } => {
            let p95 = db.query_opt(p95_sql, &w).await?.and_then(|r| float(&r, "p95"));
            let rows = db.query(by_source, &w).await?;
            let groups = rows
                .into_iter()
                .map(|r| source_json(&r, float(&r, "p95")))
                .collect::<Vec<_>>();
            (p95, groups)
        }
        Percentile::FromDurations {
            all,
            by_source,
            source,
        } => {
            let p95 = p95_of(&durations(db.query(all, &w).await?));
            // Rows' iterator is not Send: collect before the awaits below.
            let rows: Vec<Row> = db.query(by_source, &w).await?.into_iter().collect();
            let mut groups = Vec::new();
            for r in rows {
                let mut p = w.to_vec();
                p.push(Value::Text(r.string("source")));
                let d = durations(db.query(source, &p).await?);
                groups.push(source_json(&r, p95_of(&d)));
            }
            (p95, groups)
        }
    };
    let error_rate = if total > 0 {
        round4(errors as f64 / total as f64)
    } else {
        0.0
    };
    Ok(json!({
        "total_events": total,
        "avg_latency_ms": avg,
        "p95_latency_ms": p95,
        "error_rate": error_rate,
        "by_source": by_source,
    }))
}

fn source_json(r: &Row, p95: Option<f64>) -> Json {
    let mut m = Map::new();
    m.insert("source".into(), json!(r.string("source")));
    m.insert("count".into(), json!(r.i64("n").unwrap_or(0)));
    m.insert("avg_duration_ms".into(), json!(float(r, "avg_ms")));
    m.insert("p95_duration_ms".into(), json!(p95));
    m.insert("error_count".into(), json!(r.i64("errors").unwrap_or(0)));
    Json::Object(m)
}

/// Deletes events older than `days` in bounded batches; returns how many.
pub async fn expire(db: &Db, days: u32, now: DateTime<Utc>) -> rocket_store::Result<u64> {
    const BATCH: i64 = 5_000;
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut total = 0;
    loop {
        let n = db
            .execute(q::EXPIRE_BATCH, &[Value::Timestamp(cutoff), Value::Int(BATCH)])
            .await?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Every `every`, expire what is older than `days` (the first run one
/// interval after start).
pub async fn retention_loop(app: String, db: Db, days: u32, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        match expire(&db, days, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(app, deleted = n, "events retention"),
            Err(e) => tracing::warn!(app, error = %e, "events retention failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns_escape_wildcards() {
        assert_eq!(prefix_pattern("order.*").as_deref(), Some("order.%"));
        assert_eq!(prefix_pattern("a_b%*").as_deref(), Some("a\\_b\\%%"));
        assert_eq!(prefix_pattern("order.shipped"), None);
    }

    #[test]
    fn p95_is_the_element_at_floor_index() {
        let d: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(p95_of(&d), Some(20.0)); // index 19
        assert_eq!(p95_of(&[1.0, 2.0, 3.0]), Some(3.0)); // index 2
        assert_eq!(p95_of(&[]), None);
    }
}
