//! Export and import of a whole app's metadata (semantics.md §16).
//!
//! Import runs phase by phase in dependency order (phases.rs); each phase is
//! one transaction and each item a savepoint inside it, so a bad item is
//! reported and skipped while an unexpected failure leaves nothing of that
//! phase. The registry is rebuilt between phases so later ones see earlier ones.

mod identity;
mod phases;
mod samples;

use rocket_apps::AppContext;
use rocket_error::{Error, Result};
use rocket_store::Db;
use serde_json::{json, Map, Value as Json};

use crate::change::{apply, Publish};
use crate::logic::{self, Kind};

/// The resources of a document with their logic kinds, in import order.
const LOGIC: [(&str, Kind); 4] = [
    ("rules", Kind::Rule),
    ("state_machines", Kind::StateMachine),
    ("workflows", Kind::Workflow),
    ("webhooks", Kind::Webhook),
];

fn strip(mut v: Json, keys: &[&str]) -> Json {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

/// The export document (without `sample_data`), ready for the `data` envelope.
pub async fn export(db: &Db) -> Result<Json> {
    let q = |sql: &'static str| async move { db.query(sql, &[]).await };
    let entities: Vec<Json> = q("SELECT definition FROM _entities ORDER BY name")
        .await?
        .into_iter()
        .map(|r| norm(r.json("definition")))
        .collect();
    let relations: Vec<Json> = q("SELECT definition FROM _relations ORDER BY name")
        .await?
        .into_iter()
        .map(|r| norm(r.json("definition")))
        .collect();
    let mut out = Map::new();
    out.insert("version".into(), json!(1));
    out.insert(
        "exported_at".into(),
        json!(rocket_store::format_timestamp(&chrono::Utc::now())),
    );
    out.insert("entities".into(), json!(entities));
    out.insert("relations".into(), json!(relations));
    for (key, kind) in LOGIC {
        let items: Vec<Json> = logic::list(db, kind)
            .await?
            .into_iter()
            .map(|v| strip(v, &["id", "created_at", "updated_at"]))
            .collect();
        out.insert(key.into(), json!(items));
    }
    let perms: Vec<Json> = crate::access::list(db)
        .await?
        .into_iter()
        .map(|v| strip(v, &["id", "created_at", "updated_at"]))
        .collect();
    out.insert("permissions".into(), json!(perms));
    let ui: Vec<Json> = crate::ui_configs::list(db)
        .await?
        .into_iter()
        .map(|v| strip(v, &["id", "created_at", "updated_at"]))
        .collect();
    out.insert("ui_configs".into(), json!(ui));
    // Keep the documented key order of export: webhooks after permissions.
    let webhooks = out.shift_remove("webhooks").unwrap_or(json!([]));
    let ui = out.shift_remove("ui_configs").unwrap_or(json!([]));
    out.insert("webhooks".into(), webhooks);
    out.insert("ui_configs".into(), ui);
    Ok(Json::Object(out))
}

/// Nested values may arrive as JSON-encoded strings.
pub(crate) fn norm(v: Json) -> Json {
    match v {
        Json::String(s) => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        other => other,
    }
}

pub(crate) fn items(doc: &Json, key: &str) -> Vec<Json> {
    match doc.get(key).map(|v| norm(v.clone())) {
        Some(Json::Array(a)) => a.into_iter().map(norm).collect(),
        _ => Vec::new(),
    }
}

/// Counters and messages of one import.
#[derive(Default)]
pub(crate) struct Report {
    pub summary: Map<String, Json>,
    pub errors: Vec<String>,
    pub skipped: Map<String, Json>,
}

impl Report {
    pub fn count(&mut self, key: &str) {
        let n = self.summary.get(key).and_then(Json::as_i64).unwrap_or(0);
        self.summary.insert(key.into(), json!(n + 1));
    }
    pub fn skip(&mut self, key: &str, what: String) {
        let list = self.skipped.entry(key.to_string()).or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(json!(what));
        }
    }
}

/// Imports `doc` under the change sequence; whatever committed is published
/// even when a later phase failed.
pub async fn import(app: &AppContext, doc: &Json) -> Result<Json> {
    apply(app, Publish::Always, |_| import_doc(app, doc)).await
}

async fn import_doc(app: &AppContext, doc: &Json) -> Result<Json> {
    if !doc.is_object() {
        return Err(Error::invalid_json());
    }
    let version = doc.get("version").and_then(Json::as_i64).unwrap_or(0);
    if version != 1 {
        return Err(Error::validation(format!(
            "Unsupported export version: {version}"
        )));
    }
    let mut rep = Report::default();
    for k in [
        "entities",
        "relations",
        "rules",
        "state_machines",
        "workflows",
        "permissions",
        "webhooks",
        "ui_configs",
    ] {
        rep.summary.insert(k.into(), json!(0));
    }
    let reload = || async {
        app.reload().await?;
        Ok::<_, Error>(app.registry())
    };
    let db = &app.db;
    let doc_entities = phases::entities(db, &*reload().await?, doc, &mut rep).await?;
    let doc_relations = phases::relations(db, &*reload().await?, doc, &mut rep).await?;
    let reg = reload().await?;
    for (key, kind) in LOGIC {
        phases::logic(db, &reg, doc, key, kind, &mut rep).await?;
    }
    phases::permissions(db, doc, &mut rep).await?;
    phases::ui_configs(db, doc, &mut rep).await?;
    let reg = reload().await?;
    if let Some(Json::Object(sample)) = doc.get("sample_data").map(|v| norm(v.clone())) {
        if !sample.is_empty() {
            rep.summary.insert("records".into(), json!(0));
            samples::import_samples(db, &reg, &doc_entities, &doc_relations, &sample, &mut rep).await?;
        }
    }
    Ok(rep.into_response())
}

impl Report {
    fn into_response(self) -> Json {
        let mut out = Map::new();
        out.insert("message".into(), json!("Import completed"));
        out.insert("summary".into(), Json::Object(self.summary));
        if !self.errors.is_empty() {
            out.insert("errors".into(), json!(self.errors));
        }
        if !self.skipped.is_empty() {
            out.insert("skipped".into(), Json::Object(self.skipped));
        }
        Json::Object(out)
    }
}
