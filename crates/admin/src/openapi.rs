//! OpenAPI 3.1 documents: one generated from an app's live metadata (every
//! entity's CRUD paths, query parameters, schemas from field types), and a
//! static one for the platform and admin API.

use rocket_meta::{Entity, FieldType, Registry, RelKind};
use serde_json::{json, Map, Value as Json};

fn field_schema(ty: FieldType, enum_values: Option<&Vec<String>>) -> Json {
    let mut s = match ty {
        FieldType::String | FieldType::Text => json!({"type": "string"}),
        FieldType::Int | FieldType::BigInt => json!({"type": "integer"}),
        FieldType::Float | FieldType::Decimal => json!({"type": "number"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Uuid => json!({"type": "string", "format": "uuid"}),
        FieldType::Timestamp => json!({"type": "string", "format": "date-time"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Json => json!({}),
        FieldType::File => json!({"$ref": "#/components/schemas/FileRef"}),
    };
    if let (Some(values), Some(o)) = (enum_values, s.as_object_mut()) {
        o.insert("enum".into(), json!(values));
    }
    s
}

fn nullable(s: Json) -> Json {
    // A schema that admits anything (json fields: `{}`) admits null already;
    // wrapping it would make null match both branches, which oneOf forbids.
    if s.as_object().is_some_and(|o| o.is_empty()) {
        return s;
    }
    json!({"oneOf": [s, {"type": "null"}]})
}

fn record_schema(e: &Entity) -> Json {
    let mut props = Map::new();
    for f in &e.fields {
        props.insert(
            f.name.clone(),
            nullable(field_schema(f.ty, f.def.enum_values.as_ref())),
        );
    }
    if e.implicit_deleted_at {
        props.insert(
            "deleted_at".into(),
            nullable(json!({"type": "string", "format": "date-time"})),
        );
    }
    json!({"type": "object", "properties": props, "additionalProperties": true})
}

fn input_schema(e: &Entity, create: bool) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for (i, f) in e.fields.iter().enumerate() {
        if f.is_auto() || (i == e.pk && e.pk_generated) {
            continue;
        }
        let s = field_schema(f.ty, f.def.enum_values.as_ref());
        let s = if f.ty == FieldType::File {
            json!({"oneOf": [s, {"type": "string", "format": "uuid"}]})
        } else {
            s
        };
        props.insert(
            f.name.clone(),
            if f.def.nullable || !f.def.required {
                nullable(s)
            } else {
                s
            },
        );
        if create && f.def.required && !f.def.nullable && f.def.default.is_none() {
            required.push(f.name.clone());
        }
    }
    let mut s = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

fn ok(schema: Json, desc: &str) -> Json {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn errors(codes: &[u16]) -> Map<String, Json> {
    codes
        .iter()
        .map(|c| {
            (
                c.to_string(),
                json!({"$ref": format!("#/components/responses/E{c}")}),
            )
        })
        .collect()
}

fn responses(success: (u16, Json), errs: &[u16]) -> Json {
    let mut m = errors(errs);
    m.insert(success.0.to_string(), success.1);
    Json::Object(m)
}

fn components(extra: Map<String, Json>) -> Json {
    let mut schemas = extra;
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "object", "required": ["message"], "properties": {
                "field": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}}}}}}}}),
    );
    schemas.insert(
        "FileRef".into(),
        json!({"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "filename": {"type": "string"},
            "size": {"type": "integer"}, "mime_type": {"type": "string"}}}),
    );
    schemas.insert(
        "ListMeta".into(),
        json!({"type": "object", "properties": {"page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}}),
    );
    let mut resp = Map::new();
    for (c, d) in [
        (400, "Bad request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Payload too large"),
        (422, "Validation failed"),
        (503, "Overloaded"),
    ] {
        resp.insert(
            format!("E{c}"),
            ok(json!({"$ref": "#/components/schemas/Error"}), d),
        );
    }
    json!({"schemas": schemas, "responses": resp,
           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}})
}

/// The document for one app, from the registry snapshot.
pub fn app_document(app: &str, reg: &Registry) -> Json {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut names: Vec<&String> = reg.entities.keys().collect();
    names.sort();
    for name in names {
        let Some(e) = reg.entity(name) else { continue };
        let rec = format!("{name}_record");
        schemas.insert(rec.clone(), record_schema(e));
        schemas.insert(format!("{name}_create"), input_schema(e, true));
        schemas.insert(format!("{name}_update"), input_schema(e, false));
        let r = |s: &str| json!({"$ref": format!("#/components/schemas/{s}")});
        let includes: Vec<String> = reg
            .relations
            .iter()
            .filter(|x| x.def.source == *name || (x.def.target == *name && x.kind != RelKind::ManyToMany))
            .map(|x| x.def.name.clone())
            .collect();
        let mut params = vec![
            json!({"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}}),
            json!({"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}}),
            json!({"name": "sort", "in": "query", "description": "Comma-separated fields, '-' prefix for descending", "schema": {"type": "string"}}),
            json!({"name": "include", "in": "query", "description": format!("Comma-separated relations: {}", includes.join(", ")), "schema": {"type": "string"}}),
        ];
        for f in &e.fields {
            params.push(json!({"name": format!("filter[{}]", f.name), "in": "query", "schema": {"type": "string"},
                "description": format!("Equality filter; also filter[{}.OP] with OP in eq, neq, gt, gte, lt, lte, in, not_in, like", f.name)}));
        }
        let list_schema = json!({"type": "object", "properties": {"data": {"type": "array", "items": r(&rec)},
            "meta": {"$ref": "#/components/schemas/ListMeta"}}});
        let one = json!({"type": "object", "properties": {"data": r(&rec)}});
        paths.insert(
            format!("/api/{app}/{name}"),
            json!({
                "get": {"operationId": format!("list_{name}"), "tags": [name], "parameters": params,
                        "responses": responses((200, ok(list_schema, "Page of records")), &[400, 401, 403])},
                "post": {"operationId": format!("create_{name}"), "tags": [name],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": r(&format!("{name}_create"))}}},
                         "responses": responses((201, ok(one.clone(), "Created")), &[400, 401, 403, 404, 409, 413, 422])},
            }),
        );
        let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"},
                        "description": "Primary key, or slug when the entity has one"});
        paths.insert(
            format!("/api/{app}/{name}/{{id}}"),
            json!({
                "parameters": [id],
                "get": {"operationId": format!("get_{name}"), "tags": [name],
                        "parameters": [{"name": "include", "in": "query", "schema": {"type": "string"}}],
                        "responses": responses((200, ok(one.clone(), "Record")), &[401, 403, 404])},
                "put": {"operationId": format!("update_{name}"), "tags": [name],
                        "requestBody": {"required": true, "content": {"application/json": {"schema": r(&format!("{name}_update"))}}},
                        "responses": responses((200, ok(one, "Updated")), &[400, 401, 403, 404, 409, 422])},
                "delete": {"operationId": format!("delete_{name}"), "tags": [name],
                           "responses": responses((200, ok(json!({"type": "object", "properties": {"data": {"type": "object",
                               "properties": {"id": {"type": "string"}}}}}), "Deleted")), &[401, 403, 404, 409])},
            }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": format!("Rocket app {app}"), "version": "1",
                 "description": "Generated from the app's metadata; regenerated whenever it changes."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": components(schemas),
    })
}

/// Static description of the platform, auth and admin API.
pub fn platform_document() -> Json {
    let cred = json!({"type": "object", "required": ["email", "password"], "properties": {
        "email": {"type": "string"}, "password": {"type": "string"}}});
    let refresh = json!({"type": "object", "required": ["refresh_token"], "properties": {"refresh_token": {"type": "string"}}});
    let pair = json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
        "access_token": {"type": "string"}, "refresh_token": {"type": "string"}}}}});
    let msg = json!({"type": "object", "properties": {"message": {"type": "string"}}});
    let any = json!({"type": "object"});
    let body = |s: &Json| json!({"required": true, "content": {"application/json": {"schema": s}}});
    let public = |op: &str, b: &Json, out: &Json| json!({"post": {"operationId": op, "security": [], "requestBody": body(b), "responses": responses((200, ok(out.clone(), "OK")), &[400, 401])}});
    let mut paths = Map::new();
    paths.insert("/health".into(), json!({"get": {"operationId": "health", "security": [],
        "responses": {"200": ok(json!({"type": "object", "properties": {"status": {"type": "string"}}}), "Healthy")}}}));
    paths.insert("/health/live".into(), json!({"get": {"operationId": "health_live", "security": [],
        "responses": {"200": ok(json!({"type": "object", "properties": {"status": {"type": "string"}}}), "The process answers")}}}));
    let ready = json!({"type": "object", "required": ["status", "checks"], "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]}, "checks": {"type": "object"}}});
    paths.insert("/health/ready".into(), json!({"get": {"operationId": "health_ready", "security": [],
        "responses": {"200": ok(ready.clone(), "Every dependency answers"), "503": ok(ready, "A dependency is down")}}}));
    paths.insert(
        "/api/_platform/auth/login".into(),
        public("platform_login", &cred, &pair),
    );
    paths.insert(
        "/api/_platform/auth/refresh".into(),
        public("platform_refresh", &refresh, &pair),
    );
    paths.insert(
        "/api/_platform/auth/logout".into(),
        public("platform_logout", &refresh, &msg),
    );
    paths.insert("/api/_platform/apps".into(), json!({
        "get": {"operationId": "list_apps", "responses": responses((200, ok(any.clone(), "Apps")), &[401])},
        "post": {"operationId": "create_app", "requestBody": body(&json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,62}$"}, "display_name": {"type": "string"},
            "db_driver": {"type": "string", "enum": ["postgres", "sqlite"]}}})),
            "responses": responses((201, ok(any.clone(), "Created")), &[400, 401, 409, 422])}}));
    paths.insert("/api/_platform/apps/{name}".into(), json!({
        "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
        "get": {"operationId": "get_app", "responses": responses((200, ok(any.clone(), "App")), &[401, 404])},
        "delete": {"operationId": "delete_app", "responses": responses((200, ok(msg.clone(), "Deleted")), &[401, 404])}}));
    let app_param = json!({"name": "app", "in": "path", "required": true, "schema": {"type": "string"}});
    for (op, path) in [
        ("app_login", "login"),
        ("app_refresh", "refresh"),
        ("app_logout", "logout"),
    ] {
        let mut p = public(
            op,
            if path == "login" { &cred } else { &refresh },
            if path == "logout" { &msg } else { &pair },
        );
        p["parameters"] = json!([app_param.clone()]);
        paths.insert(format!("/api/{{app}}/auth/{path}"), p);
    }
    let resources = [
        ("entities", "name"),
        ("relations", "name"),
        ("rules", "id"),
        ("state-machines", "id"),
        ("workflows", "id"),
        ("permissions", "id"),
        ("webhooks", "id"),
        ("users", "id"),
        ("invites", "id"),
        ("ui-configs", "id"),
    ];
    for (res, key) in resources {
        let tag = format!("admin {res}");
        let id = res.replace('-', "_");
        paths.insert(format!("/api/{{app}}/_admin/{res}"), json!({
            "parameters": [app_param.clone()],
            "get": {"operationId": format!("list_{id}"), "tags": [tag], "responses": responses((200, ok(any.clone(), "List")), &[401, 403])},
            "post": {"operationId": format!("create_{id}"), "tags": [tag], "requestBody": body(&any),
                     "responses": responses((201, ok(any.clone(), "Created")), &[400, 401, 403, 409, 422])}}));
        let mut item = json!({
            "parameters": [app_param.clone(), {"name": key, "in": "path", "required": true, "schema": {"type": "string"}}],
            "delete": {"operationId": format!("delete_{id}"), "tags": [tag], "responses": responses((200, ok(any.clone(), "Deleted")), &[401, 403, 404])}});
        if res != "invites" {
            item["get"] = json!({"operationId": format!("get_{id}"), "tags": [tag], "responses": responses((200, ok(any.clone(), "Item")), &[401, 403, 404])});
            item["put"] = json!({"operationId": format!("update_{id}"), "tags": [tag], "requestBody": body(&any),
                                 "responses": responses((200, ok(any.clone(), "Updated")), &[400, 401, 403, 404, 422])});
        }
        paths.insert(format!("/api/{{app}}/_admin/{res}/{{{key}}}"), item);
    }
    paths.insert("/api/{app}/_admin/export".into(), json!({"parameters": [app_param.clone()],
        "get": {"operationId": "export", "responses": responses((200, ok(any.clone(), "Export document")), &[401, 403])}}));
    paths.insert("/api/{app}/_admin/import".into(), json!({"parameters": [app_param.clone()],
        "post": {"operationId": "import", "requestBody": body(&any), "responses": responses((200, ok(any.clone(), "Import summary")), &[400, 401, 403, 422])}}));
    queue_paths(&mut paths, &app_param);
    webhook_paths(&mut paths, &app_param);
    events_paths(&mut paths, &app_param);
    paths.insert("/api/{app}/_openapi".into(), json!({"parameters": [app_param],
        "get": {"operationId": "app_openapi", "responses": responses((200, ok(any, "OpenAPI document of the app")), &[401, 404])}}));
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Rocket platform and admin API", "version": "1"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": components(Map::new()),
    })
}

/// `/_admin/queue`: per-kind counts and the dead letters.
fn queue_paths(paths: &mut Map<String, Json>, app_param: &Json) {
    let tag = json!(["admin queue"]);
    let data = |inner: Json| json!({"type": "object", "required": ["data"], "properties": {"data": inner}});
    let stats = data(
        json!({"type": "object", "required": ["driver", "durable", "kinds"], "properties": {
        "driver": {"type": "string", "enum": ["sqlite", "postgres", "memory", "redis", "rabbitmq"]},
        "durable": {"type": "boolean"},
        "kinds": {"type": "array", "items": {"type": "object", "required": ["kind", "ready", "delayed", "in_flight", "dead"],
            "properties": {"kind": {"type": "string"}, "ready": {"type": "integer"}, "delayed": {"type": "integer"},
                "in_flight": {"type": "integer"}, "dead": {"type": "integer"}}}}}}),
    );
    let dead = json!({"type": "object", "required": ["id", "kind", "payload", "attempts", "last_error", "enqueued_at", "died_at"],
        "properties": {"id": {"type": "string", "format": "uuid"}, "kind": {"type": "string"}, "payload": {},
            "attempts": {"type": "integer"}, "last_error": {"type": "string"},
            "enqueued_at": {"type": ["string", "null"], "format": "date-time"},
            "died_at": {"type": ["string", "null"], "format": "date-time"}}});
    let kind = json!({"name": "kind", "in": "query", "required": false, "schema": {"type": "string"}});
    let limit = json!({"name": "limit", "in": "query", "required": false,
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let count =
        |k: &str| data(json!({"type": "object", "required": [k], "properties": {k: {"type": "integer"}}}));
    paths.insert("/api/{app}/_admin/queue".into(), json!({"parameters": [app_param],
        "get": {"operationId": "queue_stats", "tags": tag, "responses": responses((200, ok(stats, "Jobs per kind and state")), &[401, 403, 503])}}));
    paths.insert("/api/{app}/_admin/queue/dead".into(), json!({"parameters": [app_param],
        "get": {"operationId": "list_dead_jobs", "tags": tag, "parameters": [kind, limit],
            "responses": responses((200, ok(data(json!({"type": "array", "items": dead})), "Dead jobs, newest first")), &[400, 401, 403, 503])},
        "delete": {"operationId": "delete_dead_jobs", "tags": tag, "parameters": [kind],
            "responses": responses((200, ok(count("deleted"), "Deleted")), &[401, 403, 503])}}));
    paths.insert("/api/{app}/_admin/queue/dead/requeue".into(), json!({"parameters": [app_param],
        "post": {"operationId": "requeue_dead_jobs", "tags": tag, "parameters": [kind],
            "responses": responses((200, ok(count("requeued"), "Requeued with fresh attempts")), &[401, 403, 503])}}));
    paths.insert(
        "/api/{app}/_admin/queue/dead/{id}".into(),
        json!({"parameters": [app_param, id],
        "delete": {"operationId": "delete_dead_job", "tags": tag,
            "responses": responses((200, ok(json!({"type": "object"}), "Deleted")), &[401, 403, 404, 503])}}),
    );
    paths.insert(
        "/api/{app}/_admin/queue/dead/{id}/requeue".into(),
        json!({"parameters": [app_param, id],
        "post": {"operationId": "requeue_dead_job", "tags": tag,
            "responses": responses((200, ok(count("requeued"), "Requeued")), &[401, 403, 404, 503])}}),
    );
}

/// `/_admin/webhook-logs` (http-api.md §9.10) and the signing secret of a
/// webhook (`/_admin/webhooks/{id}/secret`).
/// `/_events` (http-api.md §10.4) and our batch endpoint.
fn events_paths(paths: &mut Map<String, Json>, app_param: &Json) {
    let tag = json!(["events"]);
    let body = |s: &Json| json!({"required": true, "content": {"application/json": {"schema": s}}});
    let data = |inner: Json| json!({"type": "object", "required": ["data"], "properties": {"data": inner}});
    let text = json!({"type": ["string", "null"]});
    let event = json!({"type": "object",
        "required": ["id", "trace_id", "span_id", "parent_span_id", "event_type", "source", "component", "action",
                     "entity", "record_id", "user_id", "duration_ms", "status", "metadata", "created_at"],
        "properties": {"id": {"type": "string"}, "trace_id": {"type": "string"}, "span_id": {"type": "string"},
            "parent_span_id": text.clone(), "event_type": {"type": "string", "enum": ["system", "business"]},
            "source": {"type": "string"}, "component": {"type": "string"}, "action": {"type": "string"},
            "entity": text.clone(), "record_id": text.clone(), "user_id": text.clone(),
            "duration_ms": {"type": ["number", "null"]}, "status": text, "metadata": {"type": ["object", "null"]},
            "created_at": {"type": "string", "format": "date-time"}}});
    let emit = json!({"type": "object", "required": ["action"], "properties": {"action": {"type": "string"},
        "entity": {"type": "string"}, "record_id": {"type": "string"}, "metadata": {"type": "object"}}});
    let q = |n: &str| json!({"name": n, "in": "query", "required": false, "schema": {"type": "string"}});
    let list_params: Vec<Json> = [
        "source",
        "component",
        "action",
        "entity",
        "event_type",
        "trace_id",
        "user_id",
        "status",
        "from",
        "to",
        "page",
        "per_page",
        "sort",
    ]
    .iter()
    .map(|n| q(n))
    .collect();
    paths.insert("/api/{app}/_events".into(), json!({"parameters": [app_param],
        "post": {"operationId": "emit_event", "tags": tag, "requestBody": body(&emit),
            "responses": responses((200, ok(data(json!({"type": "object", "properties": {"status": {"const": "ok"}}})), "Recorded")), &[400, 401, 422, 503])},
        "get": {"operationId": "list_events", "tags": tag, "parameters": list_params,
            "responses": responses((200, ok(json!({"type": "object", "required": ["data", "pagination"], "properties": {
                "data": {"type": "array", "items": event.clone()},
                "pagination": {"type": "object", "properties": {"page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}}}}),
                "Events, newest first unless sort=created_at")), &[400, 401, 403])}}));
    paths.insert("/api/{app}/_events/batch".into(), json!({"parameters": [app_param],
        "post": {"operationId": "ingest_events", "tags": tag,
            "requestBody": {"required": true, "content": {
                "application/json": {"schema": {"type": "array", "items": emit.clone()}},
                "application/x-ndjson": {"schema": {"type": "string"}}}},
            "responses": responses((202, ok(data(json!({"type": "object", "properties": {
                "status": {"const": "accepted"}, "accepted": {"type": "integer"}}})), "All queued")), &[400, 401, 413, 422, 503])}}));
    let trace_id = json!({"name": "trace_id", "in": "path", "required": true, "schema": {"type": "string"}});
    paths.insert("/api/{app}/_events/trace/{trace_id}".into(), json!({"parameters": [app_param, trace_id],
        "get": {"operationId": "get_trace", "tags": tag,
            "responses": responses((200, ok(data(json!({"type": "object", "required": ["trace_id", "root_span", "spans", "total_duration_ms"]})), "The trace tree")), &[401, 403, 404])}}));
    paths.insert("/api/{app}/_events/stats".into(), json!({"parameters": [app_param],
        "get": {"operationId": "event_stats", "tags": tag, "parameters": [q("from"), q("to"), q("entity")],
            "responses": responses((200, ok(data(json!({"type": "object", "required": ["total_events", "avg_latency_ms", "p95_latency_ms", "error_rate", "by_source"]})), "Stats")), &[400, 401, 403])}}));
}

fn webhook_paths(paths: &mut Map<String, Json>, app_param: &Json) {
    let tag = json!(["admin webhook logs"]);
    let data = |inner: Json| json!({"type": "object", "required": ["data"], "properties": {"data": inner}});
    let ts = json!({"type": ["string", "null"], "format": "date-time"});
    let log = json!({"type": "object",
        "required": ["id", "webhook_id", "entity", "hook", "url", "method", "request_headers", "request_body",
                     "response_status", "response_body", "status", "attempt", "max_attempts", "next_retry_at",
                     "error", "idempotency_key", "created_at", "updated_at"],
        "properties": {"id": {"type": "string"}, "webhook_id": {"type": "string"}, "entity": {"type": "string"},
            "hook": {"type": "string"}, "url": {"type": "string"}, "method": {"type": "string"},
            "request_headers": {"type": "object"}, "request_body": {},
            "response_status": {"type": ["integer", "null"]}, "response_body": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "delivered", "retrying", "failed"]},
            "attempt": {"type": "integer"}, "max_attempts": {"type": "integer"}, "next_retry_at": ts.clone(),
            "error": {"type": "string"}, "idempotency_key": {"type": "string"},
            "created_at": ts.clone(), "updated_at": ts}});
    let q = |n: &str| json!({"name": n, "in": "query", "required": false, "schema": {"type": "string"}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    paths.insert("/api/{app}/_admin/webhook-logs".into(), json!({"parameters": [app_param],
        "get": {"operationId": "list_webhook_logs", "tags": tag, "parameters": [q("webhook_id"), q("status"), q("entity")],
            "responses": responses((200, ok(data(json!({"type": "array", "items": log.clone()})), "Newest first, at most 200")), &[401, 403])}}));
    paths.insert(
        "/api/{app}/_admin/webhook-logs/{id}".into(),
        json!({"parameters": [app_param, id.clone()],
        "get": {"operationId": "get_webhook_log", "tags": tag,
            "responses": responses((200, ok(data(log), "Log row")), &[401, 403, 404])}}),
    );
    paths.insert("/api/{app}/_admin/webhook-logs/{id}/retry".into(), json!({"parameters": [app_param, id.clone()],
        "post": {"operationId": "retry_webhook_log", "tags": tag,
            "responses": responses((200, ok(data(json!({"type": "object"})), "Retrying, due now")), &[401, 403, 404, 422, 503])}}));
    let secret = data(
        json!({"type": "object", "required": ["webhook_id", "secret"], "properties": {
        "webhook_id": {"type": "string"}, "secret": {"type": "string", "pattern": "^whsec_"},
        "previous_valid_until": {"type": "string", "format": "date-time"}}}),
    );
    paths.insert("/api/{app}/_admin/webhooks/{id}/secret".into(), json!({"parameters": [app_param, id],
        "post": {"operationId": "rotate_webhook_secret", "tags": ["admin webhooks"],
            "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object",
                "properties": {"secret": {"type": "string", "pattern": "^whsec_"}}}}}},
            "responses": responses((200, ok(secret, "The new secret, shown only here")), &[400, 401, 403, 404, 422])},
        "delete": {"operationId": "delete_webhook_secret", "tags": ["admin webhooks"],
            "responses": responses((200, ok(data(json!({"type": "object"})), "No longer signed")), &[401, 403, 404])}}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_any_stays_any() {
        // null must match exactly one branch of a oneOf (schemathesis found this).
        assert_eq!(nullable(json!({})), json!({}));
        assert_eq!(
            nullable(json!({"type": "integer"})),
            json!({"oneOf": [{"type": "integer"}, {"type": "null"}]})
        );
    }
}
