//! System-table DDL (system-tables.md), written once with type tokens and
//! rendered per dialect. Every statement is idempotent and runs at bootstrap.

use rocket_store::Dialect;

const MANAGEMENT: &str = r#"
CREATE TABLE IF NOT EXISTS _apps (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    db_name TEXT NOT NULL UNIQUE,
    db_driver TEXT NOT NULL DEFAULT '{driver}',
    jwt_secret TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _platform_users (
    id {uuid_pk},
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles {roles_platform},
    active {bool} DEFAULT TRUE,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _platform_refresh_tokens (
    id {uuid_pk},
    user_id {uuid} NOT NULL REFERENCES _platform_users(id) ON DELETE CASCADE,
    token {uuid} NOT NULL UNIQUE,
    expires_at {tstz} NOT NULL,
    created_at {ts}
);
CREATE INDEX IF NOT EXISTS idx_platform_refresh_tokens_token ON _platform_refresh_tokens(token);
CREATE INDEX IF NOT EXISTS idx_platform_refresh_tokens_expires ON _platform_refresh_tokens(expires_at);
"#;

const APP: &str = r#"
CREATE TABLE IF NOT EXISTS _entities (
    name TEXT PRIMARY KEY,
    table_name TEXT NOT NULL UNIQUE,
    definition {json} NOT NULL,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _relations (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
    target TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
    definition {json} NOT NULL,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _rules (
    id {uuid_pk},
    entity TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
    hook TEXT NOT NULL DEFAULT 'before_write',
    type TEXT NOT NULL,
    definition {json} NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    active {bool} NOT NULL DEFAULT TRUE,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _state_machines (
    id {uuid_pk},
    entity TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
    field TEXT NOT NULL,
    definition {json} NOT NULL,
    active {bool} NOT NULL DEFAULT TRUE,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _workflows (
    id {uuid_pk},
    name TEXT NOT NULL UNIQUE,
    trigger {json} NOT NULL,
    context {json} NOT NULL DEFAULT '{}',
    steps {json} NOT NULL DEFAULT '[]',
    active {bool} NOT NULL DEFAULT TRUE,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _permissions (
    id {uuid_pk},
    entity TEXT NOT NULL,
    action TEXT NOT NULL,
    roles {roles} NOT NULL,
    conditions {json} DEFAULT '[]',
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _webhooks (
    id {uuid_pk},
    entity TEXT NOT NULL,
    hook TEXT NOT NULL DEFAULT 'after_write',
    url TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'POST',
    headers {json} DEFAULT '{}',
    condition TEXT DEFAULT '',
    async {bool} NOT NULL DEFAULT TRUE,
    retry {json} DEFAULT '{"max_attempts": 3, "backoff": "exponential"}',
    active {bool} NOT NULL DEFAULT TRUE,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _ui_configs (
    id {uuid_pk},
    entity TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT 'default',
    config {json} NOT NULL DEFAULT '{}',
    created_at {ts},
    updated_at {ts},
    UNIQUE (entity, scope)
);
CREATE TABLE IF NOT EXISTS _workflow_instances (
    id {uuid_pk},
    workflow_id {uuid} NOT NULL REFERENCES _workflows(id) ON DELETE CASCADE,
    workflow_name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    current_step TEXT,
    current_step_deadline {tstz},
    context {json} NOT NULL DEFAULT '{}',
    history {json} NOT NULL DEFAULT '[]',
    created_at {ts},
    updated_at {ts}
);
CREATE INDEX IF NOT EXISTS idx_workflow_instances_deadline ON _workflow_instances(status, current_step_deadline);
CREATE TABLE IF NOT EXISTS _webhook_logs (
    id {uuid_pk},
    webhook_id {uuid} NOT NULL REFERENCES _webhooks(id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    hook TEXT NOT NULL,
    url TEXT NOT NULL,
    method TEXT NOT NULL,
    request_headers {json} DEFAULT '{}',
    request_body {json} DEFAULT '{}',
    response_status INTEGER,
    response_body TEXT DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending',
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    next_retry_at {tstz},
    error TEXT DEFAULT '',
    idempotency_key TEXT NOT NULL,
    created_at {ts},
    updated_at {ts}
);
CREATE INDEX IF NOT EXISTS idx_webhook_logs_status ON _webhook_logs(status);
CREATE INDEX IF NOT EXISTS idx_webhook_logs_retry ON _webhook_logs(next_retry_at) WHERE status = 'retrying';
CREATE TABLE IF NOT EXISTS _events (
    id {uuid_pk},
    trace_id {uuid} NOT NULL,
    span_id {uuid} NOT NULL,
    parent_span_id {uuid},
    event_type TEXT NOT NULL,
    source TEXT NOT NULL,
    component TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT,
    record_id TEXT,
    user_id {uuid},
    duration_ms {double},
    status TEXT,
    metadata {json},
    created_at {ts}
);
CREATE INDEX IF NOT EXISTS idx_events_trace ON _events(trace_id);
CREATE INDEX IF NOT EXISTS idx_events_entity_created ON _events(entity, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_events_created ON _events(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_events_type_source ON _events(event_type, source);
CREATE TABLE IF NOT EXISTS _users (
    id {uuid_pk},
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles {roles},
    active {bool} DEFAULT TRUE,
    created_at {ts},
    updated_at {ts}
);
CREATE TABLE IF NOT EXISTS _refresh_tokens (
    id {uuid_pk},
    user_id {uuid} NOT NULL REFERENCES _users(id) ON DELETE CASCADE,
    token {uuid} NOT NULL UNIQUE,
    expires_at {tstz} NOT NULL,
    created_at {ts}
);
CREATE INDEX IF NOT EXISTS idx_refresh_tokens_token ON _refresh_tokens(token);
CREATE INDEX IF NOT EXISTS idx_refresh_tokens_expires ON _refresh_tokens(expires_at);
CREATE TABLE IF NOT EXISTS _invites (
    id {uuid_pk},
    email TEXT NOT NULL,
    roles {roles},
    token TEXT NOT NULL UNIQUE,
    expires_at {tstz} NOT NULL,
    accepted_at {tstz},
    invited_by {uuid},
    created_at {ts}
);
CREATE INDEX IF NOT EXISTS idx_invites_token ON _invites(token);
CREATE INDEX IF NOT EXISTS idx_invites_email ON _invites(email);
CREATE TABLE IF NOT EXISTS _files (
    id {uuid_pk},
    filename TEXT NOT NULL,
    storage_path TEXT NOT NULL,
    mime_type TEXT NOT NULL DEFAULT 'application/octet-stream',
    size BIGINT NOT NULL DEFAULT 0,
    uploaded_by {uuid},
    created_at {ts}
);
"#;

fn render(template: &str, dialect: Dialect) -> String {
    let pairs: &[(&str, &str)] = match dialect {
        Dialect::Postgres => &[
            ("{uuid_pk}", "UUID PRIMARY KEY DEFAULT gen_random_uuid()"),
            ("{uuid}", "UUID"),
            ("{ts}", "TIMESTAMPTZ NOT NULL DEFAULT NOW()"),
            ("{tstz}", "TIMESTAMPTZ"),
            ("{json}", "JSONB"),
            ("{bool}", "BOOLEAN"),
            ("{roles_platform}", "TEXT[] DEFAULT '{platform_admin}'"),
            ("{roles}", "TEXT[] DEFAULT '{}'"),
            ("{double}", "DOUBLE PRECISION"),
            ("{driver}", "postgres"),
        ],
        Dialect::Sqlite => &[
            ("{uuid_pk}", "TEXT PRIMARY KEY"),
            ("{uuid}", "TEXT"),
            (
                "{ts}",
                "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            ),
            ("{tstz}", "TEXT"),
            ("{json}", "TEXT"),
            ("{bool}", "INTEGER"),
            ("{roles_platform}", "TEXT DEFAULT '[\"platform_admin\"]'"),
            ("{roles}", "TEXT DEFAULT '[]'"),
            ("{double}", "REAL"),
            ("{driver}", "sqlite"),
        ],
    };
    let mut out = template.to_string();
    for (k, v) in pairs {
        out = out.replace(k, v);
    }
    out
}

pub fn management_ddl(dialect: Dialect) -> String {
    render(MANAGEMENT, dialect)
}

pub fn app_ddl(dialect: Dialect) -> String {
    render(APP, dialect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_left_unrendered() {
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            for sql in [management_ddl(d), app_ddl(d)] {
                for tok in [
                    "{uuid", "{ts}", "{tstz}", "{json}", "{bool}", "{roles", "{double}", "{driver}",
                ] {
                    assert!(!sql.contains(tok), "{tok} left in {d:?}");
                }
            }
        }
    }
}
