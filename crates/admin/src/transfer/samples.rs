//! `sample_data` of an import: business rows inserted as given (existing
//! keys are left alone), then many-to-many links.

use rocket_engine::convert::to_value;
use rocket_error::Result;
use rocket_meta::{EntityDef, Registry, RelationDef};
use rocket_store::sql::{Insert, JoinTable};
use rocket_store::{Db, Value};
use serde_json::{json, Map, Value as Json};

use super::Report;

pub(super) async fn import_samples(
    db: &Db,
    reg: &Registry,
    entities: &[EntityDef],
    relations: &[RelationDef],
    sample: &Map<String, Json>,
    rep: &mut Report,
) -> Result<()> {
    for def in entities {
        let (Some(entity), Some(Json::Array(rows))) = (reg.entity(&def.name), sample.get(&def.name)) else {
            continue;
        };
        for (n, row) in rows.iter().enumerate() {
            let Some(obj) = row.as_object() else { continue };
            let mut values = Vec::new();
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
                    match to_value(&f.name, f.ty, &v) {
                        Ok(val) => values.push((f.quoted.as_str(), val)),
                        Err(d) => bad = Some(d.message),
                    }
                }
            }
            if let Some(m) = bad {
                rep.errors.push(format!("Record {}[{n}]: {m}", def.name));
                continue;
            }
            if values.is_empty() {
                continue;
            }
            let st = Insert {
                table: &entity.sql,
                values,
            }
            .render_keep_existing();
            // A query, not execute: the statement returns the row it inserted (if any).
            match db.query(&st.sql, &st.params).await {
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
        let join = JoinTable::new(&rel.join_table, &rel.source_join_key, &rel.target_join_key);
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
            match db.execute(join.link(), &[val(a), val(b)]).await {
                Ok(_) => rep.count("records"),
                Err(e) => rep
                    .errors
                    .push(format!("Record {}[{n}]: {}", rel.join_table, e.message)),
            }
        }
    }
    Ok(())
}
