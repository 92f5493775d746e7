//! Writes: create, update (partial), delete (soft or hard).

use chrono::Utc;
use rocket_core::{Detail, Error, Result};
use rocket_meta::{Entity, FieldType, Registry};
use rocket_store::{Db, Dialect, StoreError, StoreErrorKind, Value};
use serde_json::{Map, Value as Json};

use crate::convert::{from_json, json_string, row_to_object};
use crate::read::{not_found, pk_value, Record};

/// Payload fields after splitting; values are the client's JSON.
struct Payload {
    fields: Vec<(usize, Json)>,
}

fn split(reg: &Registry, entity: &Entity, body: Json) -> Result<Payload> {
    let Json::Object(map) = body else {
        return Err(Error::invalid_payload("Invalid JSON body"));
    };
    let mut fields = Vec::with_capacity(map.len());
    let mut unknown = Vec::new();
    for (k, v) in map {
        if let Some(i) = entity.field_index(&k) {
            fields.push((i, v));
        } else if k == "deleted_at" && entity.implicit_deleted_at {
            // System column echoed back by clients; never writable.
        } else if reg
            .resolve_relation(&entity.name, &k)
            .is_some_and(|r| r.def.source == entity.name)
            && v.get("data").is_some_and(Json::is_array)
        {
            unknown.push(Detail::new(
                &k,
                "unsupported",
                format!("Nested writes through {k} are not supported yet"),
            ));
        } else {
            unknown.push(Detail::new(
                &k,
                "unknown",
                format!("Unknown field or relation: {k}"),
            ));
        }
    }
    if !unknown.is_empty() {
        return Err(Error::validation_details(unknown));
    }
    Ok(Payload { fields })
}

fn is_blank(v: &Json) -> bool {
    v.is_null() || v.as_str() == Some("")
}

/// Field validation (semantics.md §4.1 step 2) plus type checks; returns bind values.
fn validate(entity: &Entity, p: &Payload, create: bool, dialect: Dialect) -> Result<Vec<(usize, Value)>> {
    let mut details = Vec::new();
    if create {
        let slug_exempt = entity
            .def
            .slug
            .as_ref()
            .filter(|s| s.source.as_deref().is_some_and(|x| !x.is_empty()))
            .map(|s| s.field.as_str());
        for (i, f) in entity.fields.iter().enumerate() {
            let generated_pk = i == entity.pk && entity.pk_generated;
            let must = if i == entity.pk {
                !entity.pk_generated
            } else {
                f.def.required && !f.def.nullable
            };
            if generated_pk || f.is_auto() || !must || slug_exempt == Some(f.name.as_str()) {
                continue;
            }
            let given = p.fields.iter().find(|(j, _)| *j == i).map(|(_, v)| v);
            if given.is_none_or(is_blank) && f.def.default.is_none() {
                details.push(Detail::new(
                    &f.name,
                    "required",
                    format!("{} is required", f.name),
                ));
            }
        }
    }
    let mut values = Vec::with_capacity(p.fields.len());
    for (i, v) in &p.fields {
        let f = &entity.fields[*i];
        if !create && f.def.required && !f.def.nullable && !f.is_auto() && is_blank(v) {
            details.push(Detail::new(
                &f.name,
                "required",
                format!("{} is required", f.name),
            ));
            continue;
        }
        if let Some(allowed) = &f.def.enum_values {
            if !v.is_null() && !allowed.contains(&json_string(v)) {
                details.push(Detail::new(
                    &f.name,
                    "enum",
                    format!("{} must be one of: {}", f.name, allowed.join(", ")),
                ));
                continue;
            }
        }
        match from_json(&f.name, f.ty, v, dialect) {
            Ok(val) => values.push((*i, val)),
            Err(d) => details.push(d),
        }
    }
    if details.is_empty() {
        Ok(values)
    } else {
        Err(Error::validation_details(details))
    }
}

fn now_for(ty: FieldType) -> Value {
    let now = Utc::now();
    if ty == FieldType::Date {
        Value::Date(now.date_naive())
    } else {
        Value::Timestamp(now)
    }
}

/// Maps write failures: unique → 409, NOT NULL and bad values → 422 naming the field.
fn write_error(entity: &Entity, e: StoreError) -> Error {
    let field = e.constraint.as_deref().map(|c| {
        let c = c.rsplit('.').next().unwrap_or(c);
        entity
            .fields
            .iter()
            .find(|f| c == f.name || c.ends_with(&format!("_{}", f.name)))
            .map(|f| f.name.clone())
            .unwrap_or_else(|| c.to_string())
    });
    match e.kind {
        StoreErrorKind::NotNull => Error::validation_details(vec![Detail {
            field: field.clone(),
            rule: Some("required".into()),
            message: format!("{} is required", field.unwrap_or_default()),
        }]),
        StoreErrorKind::InvalidValue => Error::validation_details(vec![Detail {
            field,
            rule: Some("type".into()),
            message: e.message,
        }]),
        _ => e.into(),
    }
}

pub async fn create(db: &Db, reg: &Registry, entity: &Entity, body: Json) -> Result<Record> {
    let payload = split(reg, entity, body)?;
    let values = validate(entity, &payload, true, db.dialect())?;
    let mut cols: Vec<usize> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    for (i, f) in entity.fields.iter().enumerate() {
        let given = values.iter().find(|(j, _)| *j == i).map(|(_, v)| v.clone());
        let value = if i == entity.pk && entity.pk_generated {
            match entity.pk_kind {
                rocket_meta::PkKind::Uuid => Some(Value::Text(uuid::Uuid::new_v4().to_string())),
                _ => None, // database identity / rowid
            }
        } else if f.is_auto() {
            Some(now_for(f.ty))
        } else if given.is_some() {
            given
        } else {
            f.def
                .default
                .as_ref()
                .and_then(|d| from_json(&f.name, f.ty, d, db.dialect()).ok())
        };
        if let Some(v) = value {
            cols.push(i);
            params.push(v);
        }
    }
    let sql = if cols.is_empty() {
        format!(
            "INSERT INTO {} DEFAULT VALUES RETURNING {}",
            entity.table_q, entity.select_list
        )
    } else {
        let names: Vec<&str> = cols.iter().map(|i| entity.fields[*i].quoted.as_str()).collect();
        let phs: Vec<String> = (1..=cols.len()).map(|n| format!("${n}")).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
            entity.table_q,
            names.join(", "),
            phs.join(", "),
            entity.select_list
        )
    };
    let row = db
        .query_opt(&sql, &params)
        .await
        .map_err(|e| write_error(entity, e))?
        .ok_or_else(|| Error::internal("insert returned no row"))?;
    Ok(row_to_object(entity, row.values))
}

pub async fn update(db: &Db, reg: &Registry, entity: &Entity, id: &str, body: Json) -> Result<Record> {
    let key = pk_value(entity, id).ok_or_else(|| not_found(entity, id))?;
    let current = db
        .query_opt(&entity.sql_by_pk, std::slice::from_ref(&key))
        .await?
        .ok_or_else(|| not_found(entity, id))?;
    let payload = split(reg, entity, body)?;
    let values = validate(entity, &payload, false, db.dialect())?;
    let mut sets = Vec::new();
    let mut params = vec![key];
    for (i, v) in values {
        let f = &entity.fields[i];
        if i == entity.pk || f.is_auto() {
            continue;
        }
        params.push(v);
        sets.push(format!("{} = ${}", f.quoted, params.len()));
    }
    if sets.is_empty() {
        return Ok(row_to_object(entity, current.values));
    }
    for f in entity
        .fields
        .iter()
        .filter(|f| f.def.auto.as_deref() == Some("update"))
    {
        params.push(now_for(f.ty));
        sets.push(format!("{} = ${}", f.quoted, params.len()));
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE {} = $1{} RETURNING {}",
        entity.table_q,
        sets.join(", "),
        entity.pk_field().quoted,
        entity.live_filter,
        entity.select_list
    );
    let row = db
        .query_opt(&sql, &params)
        .await
        .map_err(|e| write_error(entity, e))?
        .ok_or_else(|| not_found(entity, id))?;
    Ok(row_to_object(entity, row.values))
}

pub async fn delete(db: &Db, entity: &Entity, id: &str) -> Result<Map<String, Json>> {
    let key = pk_value(entity, id).ok_or_else(|| not_found(entity, id))?;
    let n = if entity.soft_delete {
        let sql = format!(
            "UPDATE {} SET \"deleted_at\" = $2 WHERE {} = $1 AND \"deleted_at\" IS NULL",
            entity.table_q,
            entity.pk_field().quoted
        );
        db.execute(&sql, &[key, Value::Timestamp(Utc::now())]).await?
    } else {
        let sql = format!(
            "DELETE FROM {} WHERE {} = $1",
            entity.table_q,
            entity.pk_field().quoted
        );
        db.execute(&sql, &[key]).await?
    };
    if n == 0 {
        return Err(not_found(entity, id));
    }
    let mut out = Map::new();
    out.insert("id".into(), Json::String(id.to_string()));
    Ok(out)
}
