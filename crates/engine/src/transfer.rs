//! Export and import of a whole app's metadata (semantics.md §16).
//!
//! Import runs phase by phase in dependency order; each phase is one
//! transaction and each item a savepoint inside it, so a bad item is reported
//! and skipped while an unexpected failure leaves nothing of that phase.

use std::collections::HashSet;

use rocket_error::{Error, Result};
use rocket_meta::{parse_def, validate_entity, validate_relation, EntityDef, Registry, RelationDef};
use rocket_store::{quote_ident, Db, Dialect, Value};
use serde_json::{json, Map, Value as Json};

use crate::convert::from_json;
use crate::logic_admin::{self, Kind};
use crate::migrate::{migrate_entity, migrate_relation, run_deferred, Deferred};

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
    for (key, kind) in [
        ("rules", Kind::Rule),
        ("state_machines", Kind::StateMachine),
        ("workflows", Kind::Workflow),
        ("webhooks", Kind::Webhook),
    ] {
        let items: Vec<Json> = logic_admin::list(db, kind)
            .await?
            .into_iter()
            .map(|v| strip(v, &["id", "created_at", "updated_at"]))
            .collect();
        out.insert(key.into(), json!(items));
    }
    let perms: Vec<Json> = crate::policy_admin::list(db)
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
fn norm(v: Json) -> Json {
    match v {
        Json::String(s) => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        other => other,
    }
}

fn items(doc: &Json, key: &str) -> Vec<Json> {
    match doc.get(key).map(|v| norm(v.clone())) {
        Some(Json::Array(a)) => a.into_iter().map(norm).collect(),
        _ => Vec::new(),
    }
}

/// Counters and messages of one import.
#[derive(Default)]
struct Report {
    summary: Map<String, Json>,
    errors: Vec<String>,
    skipped: Map<String, Json>,
}

impl Report {
    fn count(&mut self, key: &str) {
        let n = self.summary.get(key).and_then(Json::as_i64).unwrap_or(0);
        self.summary.insert(key.into(), json!(n + 1));
    }
    fn skip(&mut self, key: &str, what: String) {
        let list = self.skipped.entry(key.to_string()).or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(json!(what));
        }
    }
}

/// Runs `op` inside a savepoint; an error rolls back just that item.
macro_rules! item {
    ($tx:expr, $body:expr) => {{
        $tx.batch("SAVEPOINT rocket_import").await?;
        let r: Result<_> = $body;
        match r {
            Ok(v) => {
                $tx.batch("RELEASE SAVEPOINT rocket_import").await?;
                Ok(v)
            }
            Err(e) => {
                $tx.batch("ROLLBACK TO SAVEPOINT rocket_import").await?;
                Err(e)
            }
        }
    }};
}

fn stored(v: &Json, d: Dialect) -> Value {
    match d {
        Dialect::Postgres => Value::Json(v.clone()),
        Dialect::Sqlite => Value::Text(v.to_string()),
    }
}

/// Imports `doc`; `reload` rebuilds the registry between phases.
pub async fn import<F, Fut>(db: &Db, doc: &Json, reload: F) -> Result<Json>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<std::sync::Arc<Registry>>>,
{
    if !doc.is_object() {
        return Err(Error::invalid_json());
    }
    let version = doc.get("version").and_then(Json::as_i64).unwrap_or(0);
    if version != 1 {
        return Err(Error::validation(format!(
            "Unsupported export version: {version}"
        )));
    }
    let dialect = db.dialect();
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

    // Entities.
    let mut reg = reload().await?;
    let mut deferred = Deferred::default();
    let mut tx = db.begin().await?;
    let mut staged: Vec<EntityDef> = reg.entities.values().map(|e| e.def.clone()).collect();
    let doc_entities: Vec<EntityDef> = items(doc, "entities")
        .iter()
        .filter_map(|v| parse_def::<EntityDef>(v).ok())
        .collect();
    for def in &doc_entities {
        if def.name.is_empty() || def.table.is_empty() {
            continue;
        }
        if staged.iter().any(|e| e.name == def.name) {
            rep.skip("entities", def.name.clone());
            continue;
        }
        let check = Registry::build(dialect, staged.clone(), Vec::new());
        let res = match validate_entity(def, &check) {
            Err(m) => Err(Error::validation(m)),
            Ok(()) => item!(tx, async {
                let d = migrate_entity(&mut tx, def).await?;
                tx.execute(
                    "INSERT INTO _entities (name, table_name, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
                    &[Value::text(&def.name), Value::text(&def.table), stored(&json!(def), dialect), Value::now()],
                )
                .await?;
                Ok(d)
            }
            .await),
        };
        match res {
            Ok(d) => {
                deferred.indexes.extend(d.indexes);
                staged.push(def.clone());
                rep.count("entities");
            }
            Err(e) => rep.errors.push(format!("Entity {}: {}", def.name, e.message)),
        }
    }
    tx.commit().await?;
    run_deferred(db, std::mem::take(&mut deferred)).await;
    reg = reload().await?;

    // Relations.
    let doc_relations: Vec<RelationDef> = items(doc, "relations")
        .iter()
        .filter_map(|v| parse_def::<RelationDef>(v).ok())
        .collect();
    let mut tx = db.begin().await?;
    for def in &doc_relations {
        if def.name.is_empty() {
            continue;
        }
        if reg.relation(&def.name).is_some() {
            rep.skip("relations", def.name.clone());
            continue;
        }
        let res = match validate_relation(def, &reg) {
            Err(m) => Err(Error::validation(m)),
            Ok(()) => item!(tx, async {
                let mut def = def.clone();
                if def.source_key.is_empty() {
                    def.source_key = reg.entity(&def.source).map(|e| e.def.primary_key.field.clone()).unwrap_or_default();
                }
                let d = migrate_relation(&mut tx, &def, &reg).await?;
                tx.execute(
                    "INSERT INTO _relations (name, source, target, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                    &[Value::text(&def.name), Value::text(&def.source), Value::text(&def.target), stored(&json!(def), dialect), Value::now()],
                )
                .await?;
                Ok(d)
            }
            .await),
        };
        match res {
            Ok(d) => {
                deferred.indexes.extend(d.indexes);
                rep.count("relations");
            }
            Err(e) => rep.errors.push(format!("Relation {}: {}", def.name, e.message)),
        }
    }
    tx.commit().await?;
    run_deferred(db, std::mem::take(&mut deferred)).await;
    reg = reload().await?;

    // Rules, state machines, workflows, webhooks: de-duplicated by identity.
    for (key, kind) in [
        ("rules", Kind::Rule),
        ("state_machines", Kind::StateMachine),
        ("workflows", Kind::Workflow),
        ("webhooks", Kind::Webhook),
    ] {
        let existing = logic_admin::list(db, kind).await?;
        let mut seen: HashSet<String> = existing.iter().map(|v| identity(kind, v)).collect();
        let mut tx = db.begin().await?;
        for item in items(doc, key) {
            let label = label(kind, &item);
            let vals = match logic_admin::normalize(kind, &item, &reg) {
                Ok(v) => v,
                Err(e) => {
                    rep.errors.push(format!("{label}: {}", e.message));
                    continue;
                }
            };
            let id = identity(kind, &Json::Object(vals.clone()));
            if !seen.insert(id) {
                rep.skip(key, label);
                continue;
            }
            match item!(tx, logic_admin::insert_tx(&mut tx, kind, &vals).await) {
                Ok(_) => rep.count(key),
                Err(e) => rep.errors.push(format!("{label}: {}", e.message)),
            }
        }
        tx.commit().await?;
    }

    // Permissions: one per (entity, action).
    let existing = crate::policy_admin::list(db).await?;
    let mut seen: HashSet<(String, String)> = existing
        .iter()
        .map(|p| (s(p, "entity"), s(p, "action")))
        .collect();
    for item in items(doc, "permissions") {
        let key = (s(&item, "entity"), s(&item, "action"));
        if !seen.insert(key.clone()) {
            rep.skip("permissions", format!("{}/{}", key.0, key.1));
            continue;
        }
        let body: crate::policy_admin::PolicyBody = match serde_json::from_value(item.clone()) {
            Ok(b) => b,
            Err(e) => {
                rep.errors.push(format!("Permission ({}/{}): {e}", key.0, key.1));
                continue;
            }
        };
        match crate::policy_admin::create(db, body).await {
            Ok(_) => rep.count("permissions"),
            Err(e) => rep
                .errors
                .push(format!("Permission ({}/{}): {}", key.0, key.1, e.message)),
        }
    }

    // UI configs: upserted.
    for item in items(doc, "ui_configs") {
        let entity = s(&item, "entity");
        let scope = match s(&item, "scope") {
            x if x.is_empty() => "default".to_string(),
            x => x,
        };
        if entity.is_empty() {
            rep.errors
                .push(format!("UI config ({entity}/{scope}): entity is required"));
            continue;
        }
        let config = norm(item.get("config").cloned().unwrap_or(json!({})));
        match crate::ui_configs::upsert(db, &entity, &scope, &config).await {
            Ok(()) => rep.count("ui_configs"),
            Err(e) => rep
                .errors
                .push(format!("UI config ({entity}/{scope}): {}", e.message)),
        }
    }
    reg = reload().await?;

    // Sample data.
    if let Some(Json::Object(sample)) = doc.get("sample_data").map(|v| norm(v.clone())) {
        if !sample.is_empty() {
            rep.summary.insert("records".into(), json!(0));
            import_samples(db, &reg, &doc_entities, &doc_relations, &sample, &mut rep).await?;
        }
    }

    let mut out = Map::new();
    out.insert("message".into(), json!("Import completed"));
    out.insert("summary".into(), Json::Object(rep.summary));
    if !rep.errors.is_empty() {
        out.insert("errors".into(), json!(rep.errors));
    }
    if !rep.skipped.is_empty() {
        out.insert("skipped".into(), Json::Object(rep.skipped));
    }
    Ok(Json::Object(out))
}

fn s(v: &Json, k: &str) -> String {
    v.get(k).and_then(Json::as_str).unwrap_or("").to_string()
}

/// JSON text with object keys sorted: PostgreSQL's JSONB reorders keys, so
/// identity comparisons must not depend on key order.
fn canonical(v: &Json) -> String {
    match v {
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", json!(k), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Json::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn identity(kind: Kind, v: &Json) -> String {
    let hook = match s(v, "hook") {
        h if h.is_empty() => "after_write".to_string(),
        h => h,
    };
    match kind {
        Kind::Rule => {
            format!(
                "{}|{}|{}|{}",
                s(v, "entity"),
                s(v, "hook"),
                s(v, "type"),
                canonical(&norm(v["definition"].clone()))
            )
        }
        Kind::StateMachine => format!("{}|{}", s(v, "entity"), s(v, "field")),
        Kind::Workflow => s(v, "name"),
        Kind::Webhook => format!("{}|{}|{}", s(v, "entity"), hook, s(v, "url")),
    }
}

fn label(kind: Kind, v: &Json) -> String {
    match kind {
        Kind::Rule => format!("Rule ({}/{})", s(v, "entity"), s(v, "hook")),
        Kind::StateMachine => format!("State machine ({}/{})", s(v, "entity"), s(v, "field")),
        Kind::Workflow => format!("Workflow {}", s(v, "name")),
        Kind::Webhook => format!("Webhook ({}/{}/{})", s(v, "entity"), s(v, "hook"), s(v, "url")),
    }
}

async fn import_samples(
    db: &Db,
    reg: &Registry,
    entities: &[EntityDef],
    relations: &[RelationDef],
    sample: &Map<String, Json>,
    rep: &mut Report,
) -> Result<()> {
    let dialect = db.dialect();
    for def in entities {
        let (Some(entity), Some(Json::Array(rows))) = (reg.entity(&def.name), sample.get(&def.name)) else {
            continue;
        };
        for (n, row) in rows.iter().enumerate() {
            let Some(obj) = row.as_object() else { continue };
            let mut cols = Vec::new();
            let mut params = Vec::new();
            let mut bad = None;
            for (i, f) in entity.fields.iter().enumerate() {
                let v = match obj.get(&f.name) {
                    Some(v) => Some(v.clone()),
                    None if f.is_auto() => Some(json!(rocket_store::format_timestamp(&chrono::Utc::now()))),
                    None if i == entity.pk
                        && entity.pk_generated
                        && entity.pk_kind == rocket_meta::PkKind::Uuid =>
                    {
                        Some(json!(uuid::Uuid::new_v4().to_string()))
                    }
                    None => None,
                };
                if let Some(v) = v {
                    match from_json(&f.name, f.ty, &v, dialect) {
                        Ok(val) => {
                            cols.push(f.quoted.clone());
                            params.push(val);
                        }
                        Err(d) => bad = Some(d.message),
                    }
                }
            }
            if let Some(m) = bad {
                rep.errors.push(format!("Record {}[{n}]: {m}", def.name));
                continue;
            }
            if cols.is_empty() {
                continue;
            }
            let phs: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                entity.table_q,
                cols.join(", "),
                phs.join(", ")
            );
            match db.execute(&sql, &params).await {
                Ok(_) => rep.count("records"),
                Err(e) => rep
                    .errors
                    .push(format!("Record {}[{n}]: {}", def.name, e.message)),
            }
        }
    }
    for rel in relations.iter().filter(|r| r.kind == "many_to_many") {
        let Some(Json::Array(rows)) = sample.get(&rel.join_table) else {
            continue;
        };
        let sql = format!(
            "INSERT INTO {} ({}, {}) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            quote_ident(&rel.join_table),
            quote_ident(&rel.source_join_key),
            quote_ident(&rel.target_join_key)
        );
        for (n, row) in rows.iter().enumerate() {
            let (Some(a), Some(b)) = (row.get(&rel.source_join_key), row.get(&rel.target_join_key)) else {
                continue;
            };
            let val = |v: &Json| match v {
                Json::String(s) => Value::text(s),
                Json::Number(n) => n
                    .as_i64()
                    .map(Value::Int)
                    .unwrap_or(Value::Float(n.as_f64().unwrap_or(0.0))),
                other => Value::Text(other.to_string()),
            };
            match db.execute(&sql, &[val(a), val(b)]).await {
                Ok(_) => rep.count("records"),
                Err(e) => rep
                    .errors
                    .push(format!("Record {}[{n}]: {}", rel.join_table, e.message)),
            }
        }
    }
    Ok(())
}
