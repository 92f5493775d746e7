//! Payload → write plan. Everything that can be checked without the current
//! rows happens here, before BEGIN: splitting keys, field validation of the
//! parent and of every child at any depth (errors carry paths such as
//! `items[2].qty`), relation resolution, file-id resolution, and the depth and
//! operation-count limits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rocket_error::{Detail, Error, ErrorCode, Result};
use rocket_meta::{Entity, FieldType, Registry, RelKind, Relation};
use rocket_store::{Db, Value};
use serde_json::{Map, Value as Json};

use crate::convert::{json_string, to_value};

/// Bounds on one nested write.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest relation nesting below the top-level record.
    pub max_depth: usize,
    /// Most rows (parent + children + links) one request may touch.
    pub max_operations: usize,
    /// Longest string (UTF-8 bytes) in an indexed column (`writes.max_indexed_length`).
    pub max_indexed_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_operations: 1000,
            max_indexed_length: 2048,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Diff,
    Replace,
    Append,
}

/// One row to write, with the nested writes below it.
#[derive(Debug)]
pub struct RowPlan {
    pub entity: Arc<Entity>,
    /// Validated bind values of the payload's declared fields.
    pub values: Vec<(usize, Value)>,
    /// The payload's fields as JSON (what rules and webhooks see as `record`).
    pub record: Map<String, Json>,
    /// Primary key given in a child row (matches it against current children).
    pub given_pk: Option<Value>,
    /// `_delete: true` in a child row.
    pub delete: bool,
    pub relations: Vec<RelPlan>,
    /// `""` for the top-level record, else e.g. `items[2]`.
    pub path: String,
}

#[derive(Debug)]
pub struct RelPlan {
    pub rel: Arc<Relation>,
    pub target: Arc<Entity>,
    pub mode: Mode,
    pub rows: Vec<RowPlan>,
}

struct Ctx<'a> {
    reg: &'a Registry,
    db: &'a Db,
    limits: Limits,
    ops: usize,
    details: Vec<Detail>,
}

impl Ctx<'_> {
    /// Counts one more row against `max_operations` (413 beyond).
    fn count_row(&mut self) -> Result<()> {
        self.ops += 1;
        if self.ops > self.limits.max_operations {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "Nested write touches more than {} rows",
                    self.limits.max_operations
                ),
            ));
        }
        Ok(())
    }
}

fn join_path(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn is_blank(v: &Json) -> bool {
    v.is_null() || v.as_str() == Some("")
}

fn is_lower_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok() && !s.chars().any(|c| c.is_ascii_uppercase())
}

/// Plans the top-level write. `create` selects required-field checks.
pub async fn plan(
    reg: &Registry,
    db: &Db,
    entity: &Arc<Entity>,
    body: Json,
    create: bool,
    limits: Limits,
) -> Result<RowPlan> {
    let Json::Object(map) = body else {
        return Err(Error::invalid_payload("Invalid JSON body"));
    };
    let mut ctx = Ctx {
        reg,
        db,
        limits,
        ops: 0,
        details: Vec::new(),
    };
    let plan = plan_row(&mut ctx, entity.clone(), map, create, String::new(), None, 0).await?;
    if !ctx.details.is_empty() {
        return Err(Error::validation_details(ctx.details));
    }
    Ok(plan)
}

type Fut<'a> = Pin<Box<dyn Future<Output = Result<RowPlan>> + Send + 'a>>;

/// `fk` is the child's foreign-key field, set by the engine (exempt from
/// `required`, never taken from the payload).
fn plan_row<'a>(
    ctx: &'a mut Ctx<'_>,
    entity: Arc<Entity>,
    map: Map<String, Json>,
    create: bool,
    path: String,
    fk: Option<usize>,
    depth: usize,
) -> Fut<'a> {
    Box::pin(async move {
        ctx.count_row()?;
        let child = !path.is_empty();
        let mut fields: Vec<(usize, Json)> = Vec::new();
        let mut nested: Vec<(Arc<Relation>, String, Json)> = Vec::new();
        let mut delete = false;
        for (k, v) in map {
            if let Some(i) = entity.field_index(&k) {
                fields.push((i, v));
            } else if k == "deleted_at" && entity.implicit_deleted_at {
                // Echoed system column; never writable.
            } else if child && k == "_delete" {
                delete = v == Json::Bool(true);
            } else if let Some(rel) = ctx
                .reg
                .resolve_relation(&entity.name, &k)
                .filter(|r| r.def.source == entity.name)
                .filter(|_| v.get("data").is_some_and(Json::is_array))
            {
                nested.push((rel.clone(), k, v));
            } else {
                ctx.details.push(Detail::new(
                    join_path(&path, &k),
                    "unknown",
                    format!("Unknown field or relation: {k}"),
                ));
            }
        }
        let given_pk = fields
            .iter()
            .find(|(i, v)| *i == entity.pk && !v.is_null())
            .and_then(|(_, v)| to_value(&entity.pk_field().name, entity.pk_field().ty, v).ok());
        // A child row with a key is an update (or a delete/ignore): no required checks.
        let as_create = create && !(child && given_pk.is_some());
        let mut record = Map::new();
        let values = validate(ctx, &entity, &fields, as_create, &path, fk).await?;
        for (i, v) in &fields {
            record.insert(entity.fields[*i].name.clone(), v.clone());
        }
        let mut relations = Vec::new();
        for (rel, key, v) in nested {
            if depth + 1 > ctx.limits.max_depth {
                return Err(Error::validation(format!(
                    "Nested write through {} at {} exceeds the maximum depth of {}",
                    key,
                    if path.is_empty() {
                        "the top level".to_string()
                    } else {
                        path.clone()
                    },
                    ctx.limits.max_depth
                )));
            }
            let Some(target) = ctx.reg.entity(&rel.def.target).cloned() else {
                continue;
            };
            let mode = match v
                .get("_write_mode")
                .and_then(Json::as_str)
                .unwrap_or(rel.def.write_mode.as_str())
            {
                "replace" => Mode::Replace,
                "append" => Mode::Append,
                _ => Mode::Diff,
            };
            let rows = v
                .get("data")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let mut planned = Vec::with_capacity(rows.len());
            for (n, row) in rows.into_iter().enumerate() {
                let row_path = format!(
                    "{}{key}[{n}]",
                    if path.is_empty() {
                        String::new()
                    } else {
                        format!("{path}.")
                    }
                );
                let Json::Object(obj) = row else {
                    ctx.details
                        .push(Detail::new(row_path, "type", "must be an object"));
                    continue;
                };
                if rel.kind == RelKind::ManyToMany {
                    planned.push(plan_link(ctx, &target, obj, row_path)?);
                } else {
                    let fk_idx = target.field_index(&rel.def.target_key);
                    planned
                        .push(plan_row(ctx, target.clone(), obj, true, row_path, fk_idx, depth + 1).await?);
                }
            }
            relations.push(RelPlan {
                rel,
                target,
                mode,
                rows: planned,
            });
        }
        Ok(RowPlan {
            values: values.unwrap_or_default(),
            record,
            given_pk,
            delete,
            relations,
            path,
            entity,
        })
    })
}

/// A many-to-many row only names the target: its key, falling back to `id`.
fn plan_link(
    ctx: &mut Ctx<'_>,
    target: &Arc<Entity>,
    obj: Map<String, Json>,
    path: String,
) -> Result<RowPlan> {
    ctx.count_row()?;
    let pk = target.pk_field();
    let id = obj
        .get(&pk.name)
        .or_else(|| obj.get("id"))
        .filter(|v| !v.is_null());
    let given_pk = match id {
        Some(v) => match to_value(&pk.name, pk.ty, v) {
            Ok(val) => Some(val),
            Err(mut d) => {
                d.field = Some(join_path(&path, &pk.name));
                ctx.details.push(d);
                None
            }
        },
        None => None,
    };
    Ok(RowPlan {
        entity: target.clone(),
        values: Vec::new(),
        record: obj.clone(),
        given_pk,
        delete: obj.get("_delete") == Some(&Json::Bool(true)),
        relations: Vec::new(),
        path,
    })
}

/// Field validation (semantics.md §4.1 step 2) plus type checks and file-id
/// resolution; collects details into the context and returns bind values.
async fn validate(
    ctx: &mut Ctx<'_>,
    entity: &Entity,
    fields: &[(usize, Json)],
    create: bool,
    path: &str,
    fk: Option<usize>,
) -> Result<Option<Vec<(usize, Value)>>> {
    let before = ctx.details.len();
    if create {
        let slug_exempt = entity
            .def
            .slug
            .as_ref()
            .filter(|s| s.source.as_deref().is_some_and(|x| !x.is_empty()))
            .map(|s| s.field.as_str());
        for (i, f) in entity.fields.iter().enumerate() {
            let must = if i == entity.pk {
                !entity.pk_generated
            } else {
                f.def.required && !f.def.nullable
            };
            if !must || f.is_auto() || Some(i) == fk || slug_exempt == Some(f.name.as_str()) {
                continue;
            }
            let given = fields.iter().find(|(j, _)| *j == i).map(|(_, v)| v);
            if given.is_none_or(is_blank) && f.def.default.is_none() {
                ctx.details.push(Detail::new(
                    join_path(path, &f.name),
                    "required",
                    format!("{} is required", f.name),
                ));
            }
        }
    }
    let mut values = Vec::with_capacity(fields.len());
    for (i, v) in fields {
        let f = &entity.fields[*i];
        let fpath = join_path(path, &f.name);
        if Some(*i) == fk {
            continue;
        }
        if !create && f.def.required && !f.def.nullable && !f.is_auto() && is_blank(v) {
            ctx.details
                .push(Detail::new(fpath, "required", format!("{} is required", f.name)));
            continue;
        }
        if let Some(allowed) = &f.def.enum_values {
            if !v.is_null() && !allowed.contains(&json_string(v)) {
                ctx.details.push(Detail::new(
                    fpath,
                    "enum",
                    format!("{} must be one of: {}", f.name, allowed.join(", ")),
                ));
                continue;
            }
        }
        // An unknown file id is 404 NOT_FOUND (http-api.md §11), not a 422 detail.
        let v = if f.ty == FieldType::File {
            match v {
                Json::Null | Json::Object(_) => v.clone(),
                Json::String(s) if is_lower_uuid(s) => resolve_file(ctx.db, v).await?,
                // Anything else would be stored as if it were a file reference.
                _ => {
                    ctx.details.push(Detail::new(
                        fpath,
                        "type",
                        format!("{} must be a file id (lowercase UUID) or a file object", f.name),
                    ));
                    continue;
                }
            }
        } else {
            v.clone()
        };
        match to_value(&f.name, f.ty, &v) {
            Ok(Value::Text(s))
                if s.len() > ctx.limits.max_indexed_length && is_indexed(ctx.reg, entity, *i) =>
            {
                ctx.details.push(Detail::new(
                    fpath,
                    "max_length",
                    format!(
                        "{} must be at most {} bytes (UTF-8): the field is indexed",
                        f.name, ctx.limits.max_indexed_length
                    ),
                ));
            }
            Ok(val) => values.push((*i, val)),
            Err(mut d) => {
                d.field = Some(fpath);
                ctx.details.push(d);
            }
        }
    }
    Ok((ctx.details.len() == before).then_some(values))
}

/// Whether field `i` is stored in a B-tree index (primary key, unique,
/// indexed, slug, or a key a relation joins on), where PostgreSQL refuses
/// entries above ~2700 bytes; long values there are a 422, on both stores.
fn is_indexed(reg: &Registry, entity: &Entity, i: usize) -> bool {
    let f = &entity.fields[i];
    i == entity.pk
        || f.def.unique
        || f.def.indexed
        || entity.def.slug.as_ref().is_some_and(|s| s.field == f.name)
        || reg.relations.iter().any(|r| {
            (r.def.target == entity.name && r.def.target_key == f.name)
                || (r.def.source == entity.name && r.source_key(entity) == f.name)
        })
}

/// A bare file UUID becomes `{id, filename, size, mime_type}` from `_files`.
async fn resolve_file(db: &Db, v: &Json) -> Result<Json> {
    let Some(s) = v.as_str().filter(|s| is_lower_uuid(s)) else {
        return Ok(v.clone());
    };
    let row = db
        .query_opt(
            "SELECT id, filename, size, mime_type FROM _files WHERE id = $1",
            &[Value::text(s)],
        )
        .await?
        .ok_or_else(|| Error::not_found("File ID not found"))?;
    Ok(serde_json::json!({
        "id": row.string("id"), "filename": row.string("filename"),
        "size": row.i64("size").unwrap_or(0), "mime_type": row.string("mime_type"),
    }))
}
