//! The fixed SQL of the rule, state-machine, workflow and webhook tables.

/// Fixed statements per resource table (no SQL is assembled at run time).
pub struct Statements {
    pub list: &'static str,
    pub get: &'static str,
    pub insert: &'static str,
    pub update: &'static str,
    pub delete: &'static str,
}

pub const RULE: Statements = Statements {
    list: r#"SELECT * FROM _rules ORDER BY entity, priority, created_at"#,
    get: r#"SELECT * FROM _rules WHERE id = $1"#,
    insert: r#"INSERT INTO _rules (id, "entity", "hook", "type", "definition", "priority", "active", created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *"#,
    update: r#"UPDATE _rules SET "entity" = $2, "hook" = $3, "type" = $4, "definition" = $5, "priority" = $6, "active" = $7, updated_at = $8 WHERE id = $1 RETURNING *"#,
    delete: r#"DELETE FROM _rules WHERE id = $1"#,
};

pub const STATE_MACHINE: Statements = Statements {
    list: r#"SELECT * FROM _state_machines ORDER BY entity, field, created_at"#,
    get: r#"SELECT * FROM _state_machines WHERE id = $1"#,
    insert: r#"INSERT INTO _state_machines (id, "entity", "field", "definition", "active", created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *"#,
    update: r#"UPDATE _state_machines SET "entity" = $2, "field" = $3, "definition" = $4, "active" = $5, updated_at = $6 WHERE id = $1 RETURNING *"#,
    delete: r#"DELETE FROM _state_machines WHERE id = $1"#,
};

pub const WORKFLOW: Statements = Statements {
    list: r#"SELECT * FROM _workflows ORDER BY name"#,
    get: r#"SELECT * FROM _workflows WHERE id = $1"#,
    insert: r#"INSERT INTO _workflows (id, "name", "trigger", "context", "steps", "active", created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *"#,
    update: r#"UPDATE _workflows SET "name" = $2, "trigger" = $3, "context" = $4, "steps" = $5, "active" = $6, updated_at = $7 WHERE id = $1 RETURNING *"#,
    delete: r#"DELETE FROM _workflows WHERE id = $1"#,
};

pub const WEBHOOK: Statements = Statements {
    list: r#"SELECT * FROM _webhooks ORDER BY entity, hook, created_at"#,
    get: r#"SELECT * FROM _webhooks WHERE id = $1"#,
    insert: r#"INSERT INTO _webhooks (id, "entity", "hook", "url", "method", "headers", "condition", "async", "retry", "active", created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING *"#,
    update: r#"UPDATE _webhooks SET "entity" = $2, "hook" = $3, "url" = $4, "method" = $5, "headers" = $6, "condition" = $7, "async" = $8, "retry" = $9, "active" = $10, updated_at = $11 WHERE id = $1 RETURNING *"#,
    delete: r#"DELETE FROM _webhooks WHERE id = $1"#,
};
