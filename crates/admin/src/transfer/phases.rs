//! The phases of an import, in dependency order. Each runs in one
//! transaction with a savepoint per item (see `item!`), so one bad item is
//! reported and skipped without losing the others.

use std::collections::HashSet;

use rocket_engine::migrate::{migrate_entity, migrate_relation, run_deferred, Deferred};
use rocket_error::{Error, Result};
use rocket_meta::{parse_def, validate_entity, validate_relation, EntityDef, Registry, RelationDef};
use rocket_store::{Db, Tx};
use serde_json::{json, Value as Json};

use super::identity::{identity, label, s};
use super::{items, norm, Report};
use crate::logic::{self, Kind};
use crate::{access, rows, ui_configs};

/// Runs one item inside a savepoint; its error rolls back just that item.
async fn in_savepoint<T>(tx: &mut Tx, result: Result<T>) -> Result<T> {
    match result {
        Ok(v) => {
            tx.batch("RELEASE SAVEPOINT rocket_import").await?;
            Ok(v)
        }
        Err(e) => {
            tx.batch("ROLLBACK TO SAVEPOINT rocket_import").await?;
            Err(e)
        }
    }
}

async fn entity_item(tx: &mut Tx, def: &EntityDef) -> Result<Deferred> {
    tx.batch("SAVEPOINT rocket_import").await?;
    let res = async {
        let d = migrate_entity(tx, def).await?;
        rows::insert_entity(tx, def).await?;
        Ok(d)
    }
    .await;
    in_savepoint(tx, res).await
}

async fn relation_item(tx: &mut Tx, def: &RelationDef, reg: &Registry) -> Result<Deferred> {
    tx.batch("SAVEPOINT rocket_import").await?;
    let res = async {
        let def = crate::schema::normalize_relation(def.clone(), reg);
        let d = migrate_relation(tx, &def, reg).await?;
        rows::write_relation(tx, &def, true).await?;
        Ok(d)
    }
    .await;
    in_savepoint(tx, res).await
}

/// Entities not yet present; returns the document's entities (for samples).
pub(super) async fn entities(
    db: &Db,
    reg: &Registry,
    doc: &Json,
    rep: &mut Report,
) -> Result<Vec<EntityDef>> {
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
        // Validated against what is staged so far, so one document's
        // entities may refer to each other.
        let check = Registry::build(reg.dialect, staged.clone(), Vec::new());
        let res = match validate_entity(def, &check) {
            Err(m) => Err(Error::validation(m)),
            Ok(()) => entity_item(&mut tx, def).await,
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
    run_deferred(db, deferred).await;
    Ok(doc_entities)
}

/// Relations not yet present; returns the document's relations.
pub(super) async fn relations(
    db: &Db,
    reg: &Registry,
    doc: &Json,
    rep: &mut Report,
) -> Result<Vec<RelationDef>> {
    let mut deferred = Deferred::default();
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
        let res = match validate_relation(def, reg) {
            Err(m) => Err(Error::validation(m)),
            Ok(()) => relation_item(&mut tx, def, reg).await,
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
    run_deferred(db, deferred).await;
    Ok(doc_relations)
}

/// Rules, state machines, workflows or webhooks, de-duplicated by identity.
pub(super) async fn logic(
    db: &Db,
    reg: &Registry,
    doc: &Json,
    key: &str,
    kind: Kind,
    rep: &mut Report,
) -> Result<()> {
    let existing = logic::list(db, kind).await?;
    let mut seen: HashSet<String> = existing.iter().map(|v| identity(kind, v)).collect();
    let mut tx = db.begin().await?;
    for item in items(doc, key) {
        let label = label(kind, &item);
        let vals = match logic::normalize(kind, &item, reg) {
            Ok(v) => v,
            Err(e) => {
                rep.errors.push(format!("{label}: {}", e.message));
                continue;
            }
        };
        if !seen.insert(identity(kind, &Json::Object(vals.clone()))) {
            rep.skip(key, label);
            continue;
        }
        tx.batch("SAVEPOINT rocket_import").await?;
        let res = logic::insert_tx(&mut tx, kind, &vals).await;
        match in_savepoint(&mut tx, res).await {
            Ok(_) => rep.count(key),
            Err(e) => rep.errors.push(format!("{label}: {}", e.message)),
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Permissions: one per (entity, action).
pub(super) async fn permissions(db: &Db, doc: &Json, rep: &mut Report) -> Result<()> {
    let existing = access::list(db).await?;
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
        let body: access::PolicyBody = match serde_json::from_value(item.clone()) {
            Ok(b) => b,
            Err(e) => {
                rep.errors.push(format!("Permission ({}/{}): {e}", key.0, key.1));
                continue;
            }
        };
        match access::insert(db, body).await {
            Ok(_) => rep.count("permissions"),
            Err(e) => rep
                .errors
                .push(format!("Permission ({}/{}): {}", key.0, key.1, e.message)),
        }
    }
    Ok(())
}

/// UI configs: upserted by (entity, scope).
pub(super) async fn ui_configs(db: &Db, doc: &Json, rep: &mut Report) -> Result<()> {
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
        match ui_configs::upsert(db, &entity, &scope, &config).await {
            Ok(()) => rep.count("ui_configs"),
            Err(e) => rep
                .errors
                .push(format!("UI config ({entity}/{scope}): {}", e.message)),
        }
    }
    Ok(())
}
