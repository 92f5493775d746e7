//! Admin CRUD for rules, state machines, workflows and webhooks
//! (http-api.md §9.4-9.9). Documents are validated on save; expressions are
//! compiled by the registry, so a syntax error is a 422 here, not a surprise
//! at write time.

use chrono::Utc;
use rocket_apps::AppContext;
use rocket_error::{Error, Result};
use rocket_meta::Registry;
use rocket_store::{format_timestamp, Db, Row, StoreErrorKind, Tx, Value};
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use crate::change::{apply, Publish};

/// Which resource a route manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rule,
    StateMachine,
    Workflow,
    Webhook,
}

mod statements;

impl Kind {
    fn sql(self) -> &'static statements::Statements {
        match self {
            Kind::Rule => &statements::RULE,
            Kind::StateMachine => &statements::STATE_MACHINE,
            Kind::Workflow => &statements::WORKFLOW,
            Kind::Webhook => &statements::WEBHOOK,
        }
    }
    fn word(self) -> &'static str {
        match self {
            Kind::Rule => "Rule",
            Kind::StateMachine => "State machine",
            Kind::Workflow => "Workflow",
            Kind::Webhook => "Webhook",
        }
    }
    /// (column, is JSON) in response order, without id and timestamps.
    fn columns(self) -> &'static [(&'static str, Col)] {
        match self {
            Kind::Rule => &[
                ("entity", Col::Text),
                ("hook", Col::Text),
                ("type", Col::Text),
                ("definition", Col::Json),
                ("priority", Col::Int),
                ("active", Col::Bool),
            ],
            Kind::StateMachine => &[
                ("entity", Col::Text),
                ("field", Col::Text),
                ("definition", Col::Json),
                ("active", Col::Bool),
            ],
            Kind::Workflow => &[
                ("name", Col::Text),
                ("trigger", Col::Json),
                ("context", Col::Json),
                ("steps", Col::Json),
                ("active", Col::Bool),
            ],
            Kind::Webhook => &[
                ("entity", Col::Text),
                ("hook", Col::Text),
                ("url", Col::Text),
                ("method", Col::Text),
                ("headers", Col::Json),
                ("condition", Col::Text),
                ("async", Col::Bool),
                ("retry", Col::Json),
                ("active", Col::Bool),
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Text,
    Json,
    Int,
    Bool,
}

/// Accepts nested documents given as JSON-encoded strings too.
fn as_json(v: Option<&Json>) -> Option<Json> {
    match v {
        Some(Json::String(s)) => serde_json::from_str(s)
            .ok()
            .or_else(|| Some(Json::String(s.clone()))),
        Some(v) => Some(v.clone()),
        None => None,
    }
}

fn str_of(body: &Map<String, Json>, k: &str) -> String {
    body.get(k)
        .and_then(Json::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Validates and normalises a body into column values (defaults applied).
pub fn normalize(kind: Kind, body: &Json, reg: &Registry) -> Result<Map<String, Json>> {
    let Json::Object(b) = body else {
        return Err(Error::invalid_json());
    };
    let mut out = Map::new();
    let entity_known = |e: &str| -> Result<()> {
        if e.is_empty() {
            return Err(Error::validation("entity is required"));
        }
        if reg.entity(e).is_none() {
            return Err(Error::validation(format!("entity not found: {e}")));
        }
        Ok(())
    };
    let active = b.get("active").and_then(Json::as_bool).unwrap_or(true);
    match kind {
        Kind::Rule => {
            let entity = str_of(b, "entity");
            entity_known(&entity)?;
            let hook = match str_of(b, "hook") {
                h if h.is_empty() => "before_write".to_string(),
                h => h,
            };
            if hook != "before_write" && hook != "before_delete" {
                return Err(Error::validation(format!(
                    "invalid hook: {hook} (must be before_write or before_delete)"
                )));
            }
            let ty = str_of(b, "type");
            if !["field", "expression", "computed"].contains(&ty.as_str()) {
                return Err(Error::validation(format!(
                    "invalid rule type: {ty} (must be field, expression, or computed)"
                )));
            }
            let def = as_json(b.get("definition")).unwrap_or(json!({}));
            if !def.is_object() {
                return Err(Error::validation("definition must be an object"));
            }
            rocket_meta::logic_check::validate_rule(&ty, &def, reg.entity(&entity).map(|e| e.as_ref()))
                .map_err(Error::validation)?;
            let priority = b
                .get("priority")
                .and_then(|p| p.as_i64().or_else(|| p.as_str()?.parse().ok()))
                .unwrap_or(0);
            out.insert("entity".into(), json!(entity));
            out.insert("hook".into(), json!(hook));
            out.insert("type".into(), json!(ty));
            out.insert("definition".into(), def);
            out.insert("priority".into(), json!(priority));
        }
        Kind::StateMachine => {
            let entity = str_of(b, "entity");
            entity_known(&entity)?;
            let field = str_of(b, "field");
            if field.is_empty() {
                return Err(Error::validation("field is required"));
            }
            let def = as_json(b.get("definition")).unwrap_or(json!({}));
            let transitions = def
                .get("transitions")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            if transitions.is_empty() {
                return Err(Error::validation("at least one transition is required"));
            }
            rocket_meta::logic_check::validate_machine(&def).map_err(Error::validation)?;
            out.insert("entity".into(), json!(entity));
            out.insert("field".into(), json!(field));
            out.insert(
                "definition".into(),
                rocket_meta::logic_check::normalize_machine(def),
            );
        }
        Kind::Workflow => {
            let name = str_of(b, "name");
            if name.is_empty() {
                return Err(Error::validation("workflow name is required"));
            }
            let trigger = as_json(b.get("trigger")).unwrap_or(json!({}));
            if trigger
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("")
                .is_empty()
            {
                return Err(Error::validation("trigger type is required"));
            }
            if trigger
                .get("entity")
                .and_then(Json::as_str)
                .unwrap_or("")
                .is_empty()
            {
                return Err(Error::validation("trigger entity is required"));
            }
            let steps = as_json(b.get("steps")).unwrap_or(json!([]));
            rocket_meta::logic_check::validate_steps(&steps).map_err(Error::validation)?;
            out.insert("name".into(), json!(name));
            out.insert("trigger".into(), trigger);
            out.insert("context".into(), as_json(b.get("context")).unwrap_or(json!({})));
            out.insert("steps".into(), steps);
        }
        Kind::Webhook => {
            let entity = str_of(b, "entity");
            if entity.is_empty() {
                return Err(Error::validation("entity is required"));
            }
            let hook = match str_of(b, "hook") {
                h if h.is_empty() => "after_write".to_string(),
                h => h,
            };
            if !["after_write", "before_write", "after_delete", "before_delete"].contains(&hook.as_str()) {
                return Err(Error::validation(
                    "hook must be after_write, before_write, after_delete, or before_delete",
                ));
            }
            let url = str_of(b, "url");
            if url.is_empty() {
                return Err(Error::validation("url is required"));
            }
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(Error::validation("url must start with http:// or https://"));
            }
            match url::Url::parse(&url) {
                Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {}
                Ok(_) => return Err(Error::validation("url must name a host")),
                Err(e) => return Err(Error::validation(format!("url is not valid: {e}"))),
            }
            let method = match str_of(b, "method").to_uppercase() {
                m if m.is_empty() => "POST".to_string(),
                m => m,
            };
            if !["POST", "PUT", "PATCH", "GET", "DELETE"].contains(&method.as_str()) {
                return Err(Error::validation(
                    "method must be POST, PUT, PATCH, GET, or DELETE",
                ));
            }
            let condition = str_of(b, "condition");
            if !condition.is_empty() {
                rocket_meta::logic_check::compile(&condition)
                    .map_err(|e| Error::validation(format!("invalid condition: {e}")))?;
            }
            out.insert("entity".into(), json!(entity));
            out.insert("hook".into(), json!(hook));
            out.insert("url".into(), json!(url));
            out.insert("method".into(), json!(method));
            let headers = as_json(b.get("headers")).unwrap_or(json!({}));
            check_headers(&headers)?;
            let retry =
                as_json(b.get("retry")).unwrap_or(json!({"max_attempts": 3, "backoff": "exponential"}));
            check_retry(&retry)?;
            out.insert("headers".into(), headers);
            out.insert("condition".into(), json!(condition));
            out.insert(
                "async".into(),
                json!(b.get("async").and_then(Json::as_bool).unwrap_or(true)),
            );
            out.insert("retry".into(), retry);
        }
    }
    out.insert("active".into(), json!(active));
    Ok(out)
}

/// Webhook headers: an object of header names (RFC 9110 tokens) to string
/// values without control characters (templates like `{{env.KEY}}` allowed).
fn check_headers(h: &Json) -> Result<()> {
    let Some(map) = h.as_object() else {
        return Err(Error::validation(
            "headers must be an object of header names to string values",
        ));
    };
    for (k, v) in map {
        let token = !k.is_empty()
            && k.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c));
        if !token {
            return Err(Error::validation(format!(
                "headers: {k:?} is not a valid header name"
            )));
        }
        match v.as_str() {
            Some(s)
                if s.bytes()
                    .all(|c| c == b'\t' || (0x20..0x7f).contains(&c) || c >= 0x80) => {}
            Some(_) => {
                return Err(Error::validation(format!(
                    "headers: the value of {k} contains a control character"
                )))
            }
            None => {
                return Err(Error::validation(format!(
                    "headers: the value of {k} must be a string"
                )))
            }
        }
    }
    Ok(())
}

/// `{"max_attempts": 1..=100, "backoff": "exponential" | "linear"}`, both optional.
fn check_retry(r: &Json) -> Result<()> {
    let Some(map) = r.as_object() else {
        return Err(Error::validation("retry must be an object"));
    };
    for k in map.keys() {
        if k != "max_attempts" && k != "backoff" {
            return Err(Error::validation(format!("retry: unknown key {k}")));
        }
    }
    if let Some(m) = map.get("max_attempts") {
        if !m.as_u64().is_some_and(|n| (1..=100).contains(&n)) {
            return Err(Error::validation(
                "retry.max_attempts must be an integer from 1 to 100",
            ));
        }
    }
    if let Some(b) = map.get("backoff") {
        if !matches!(b.as_str(), Some("exponential" | "linear")) {
            return Err(Error::validation("retry.backoff must be exponential or linear"));
        }
    }
    Ok(())
}

fn bind(col: Col, v: &Json) -> Value {
    match (col, v) {
        (Col::Json, v) => Value::Document(v.clone()),
        (Col::Int, v) => Value::Int(v.as_i64().unwrap_or(0)),
        (Col::Bool, v) => Value::Bool(v.as_bool().unwrap_or(true)),
        (Col::Text, Json::String(s)) => Value::text(s),
        (Col::Text, Json::Null) => Value::Null,
        (Col::Text, v) => Value::Text(v.to_string()),
    }
}

/// The bound values of `kind`'s columns, in the statements' order.
fn column_values(kind: Kind, vals: &Map<String, Json>) -> impl Iterator<Item = Value> + '_ {
    kind.columns()
        .iter()
        .map(|(c, ty)| bind(*ty, vals.get(*c).unwrap_or(&Json::Null)))
}

fn render(kind: Kind, r: &Row, with_ts: bool) -> Json {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.string("id")));
    for (c, ty) in kind.columns() {
        let v = match ty {
            Col::Text => r.str(c).map_or(Json::Null, Json::String),
            Col::Json => r.json(c),
            Col::Int => json!(r.i64(c).unwrap_or(0)),
            Col::Bool => json!(r.bool(c).unwrap_or(false)),
        };
        out.insert(c.to_string(), v);
    }
    if with_ts {
        for c in ["created_at", "updated_at"] {
            out.insert(
                c.into(),
                r.timestamp(c).map_or(Json::Null, |t| json!(format_timestamp(&t))),
            );
        }
    }
    Json::Object(out)
}

fn nf(kind: Kind, id: &str) -> Error {
    Error::not_found(format!("{} not found: {id}", kind.word()))
}

fn key(id: &str) -> Option<Value> {
    Uuid::parse_str(id).ok().map(|u| Value::text(u.to_string()))
}

pub async fn list(db: &Db, kind: Kind) -> Result<Vec<Json>> {
    let rows = db.query(kind.sql().list, &[]).await?;
    Ok(rows.into_iter().map(|r| render(kind, &r, true)).collect())
}

pub async fn get(db: &Db, kind: Kind, id: &str) -> Result<Json> {
    let k = key(id).ok_or_else(|| nf(kind, id))?;
    db.query_opt(kind.sql().get, &[k])
        .await?
        .map(|r| render(kind, &r, true))
        .ok_or_else(|| nf(kind, id))
}

fn conflict(kind: Kind, e: rocket_store::StoreError, vals: &Map<String, Json>) -> Error {
    if e.kind == StoreErrorKind::UniqueViolation && kind == Kind::Workflow {
        Error::conflict(format!(
            "Workflow already exists: {}",
            vals["name"].as_str().unwrap_or("")
        ))
    } else {
        e.into()
    }
}

pub async fn create(app: &AppContext, kind: Kind, body: &Json) -> Result<Json> {
    apply(app, Publish::OnSuccess, |reg| async move {
        let vals = normalize(kind, body, &reg)?;
        let mut tx = app.db.begin().await?;
        let out = insert_tx(&mut tx, kind, &vals).await?;
        tx.commit().await?;
        Ok(out)
    })
    .await
}

/// Inserts normalised values inside a transaction (import runs a phase in one).
pub async fn insert_tx(tx: &mut Tx, kind: Kind, vals: &Map<String, Json>) -> Result<Json> {
    let id = Uuid::new_v4().to_string();
    let mut params = vec![Value::text(&id)];
    params.extend(column_values(kind, vals));
    params.push(Value::Timestamp(Utc::now()));
    let row = tx
        .query_opt(kind.sql().insert, &params)
        .await
        .map_err(|e| conflict(kind, e, vals))?
        .ok_or_else(|| Error::internal("insert returned no row"))?;
    Ok(render(kind, &row, false))
}

pub async fn update(app: &AppContext, kind: Kind, id: &str, body: &Json) -> Result<Json> {
    apply(app, Publish::OnSuccess, |reg| async move {
        update_row(&app.db, &reg, kind, id, body).await
    })
    .await
}

async fn update_row(db: &Db, reg: &Registry, kind: Kind, id: &str, body: &Json) -> Result<Json> {
    let k = key(id).ok_or_else(|| nf(kind, id))?;
    let vals = normalize(kind, body, reg)?;
    let mut params = vec![k];
    params.extend(column_values(kind, &vals));
    params.push(Value::Timestamp(Utc::now()));
    let row = db
        .query_opt(kind.sql().update, &params)
        .await
        .map_err(|e| conflict(kind, e, &vals))?
        .ok_or_else(|| nf(kind, id))?;
    Ok(render(kind, &row, false))
}

pub async fn delete(app: &AppContext, kind: Kind, id: &str) -> Result<()> {
    apply(app, Publish::OnSuccess, |_| async move {
        let k = key(id).ok_or_else(|| nf(kind, id))?;
        if app.db.execute(kind.sql().delete, &[k]).await? == 0 {
            return Err(nf(kind, id));
        }
        Ok(())
    })
    .await
}
