use rocket_error::Result;
use rocket_store::Db;

use crate::logic::{compile_machine, compile_rule, Compiled};
use crate::model::{parse_def, EntityDef, RelationDef};
use crate::permissions::{Condition, Policy};
use crate::registry::Registry;
use crate::webhooks::{compile_webhook, Secrets};
use crate::workflows::compile_workflow;

/// Reads every entity and relation of an app and compiles a snapshot.
pub async fn load_registry(db: &Db) -> Result<Registry> {
    let (ents, rels, perms, rules, machines, webhooks, workflows) = {
        let mut r = db
            .query_many(&[
                ("SELECT name, definition FROM _entities ORDER BY name", &[]),
                ("SELECT name, definition FROM _relations ORDER BY name", &[]),
                ("SELECT id, entity, action, roles, conditions FROM _permissions ORDER BY created_at, id", &[]),
                ("SELECT id, entity, hook, type, definition, priority, active FROM _rules ORDER BY priority, created_at", &[]),
                ("SELECT id, entity, field, definition, active FROM _state_machines ORDER BY created_at", &[]),
                ("SELECT w.id, w.entity, w.hook, w.url, w.method, w.headers, w.condition, w.async, w.retry, w.active, s.secret, s.previous, s.previous_until FROM _webhooks w LEFT JOIN _webhook_secrets s ON s.webhook_id = w.id ORDER BY w.created_at", &[]),
                ("SELECT id, name, trigger, context, steps, active FROM _workflows ORDER BY name", &[]),
            ])
            .await?
            .into_iter();
        let mut next = || r.next().unwrap_or_default();
        (next(), next(), next(), next(), next(), next(), next())
    };
    let rules = rules
        .into_iter()
        .filter(|row| row.bool("active").unwrap_or(false))
        .filter_map(|row| {
            compile_rule(
                row.string("id"),
                row.string("entity"),
                row.string("hook"),
                &row.string("type"),
                row.i64("priority").unwrap_or(0),
                &normalized_json(row.json("definition")),
            )
        })
        .collect();
    let machines = machines
        .into_iter()
        .filter(|row| row.bool("active").unwrap_or(false))
        .map(|row| {
            compile_machine(
                row.string("id"),
                row.string("entity"),
                row.string("field"),
                &normalized_json(row.json("definition")),
            )
        })
        .collect();
    let webhooks = webhooks
        .into_iter()
        .filter(|row| row.bool("active").unwrap_or(false))
        .filter_map(|row| {
            compile_webhook(
                row.string("id"),
                row.string("entity"),
                &row.string("hook"),
                row.string("url"),
                row.string("method"),
                &normalized_json(row.json("headers")),
                &row.string("condition"),
                row.bool("async").unwrap_or(true),
                &normalized_json(row.json("retry")),
            )
            .map(|w| {
                w.with_secrets(Secrets {
                    current: row.str("secret").filter(|s| !s.is_empty()),
                    previous: row.str("previous").filter(|s| !s.is_empty()),
                    previous_until: row.timestamp("previous_until"),
                })
            })
        })
        .collect();
    let workflows = workflows
        .into_iter()
        .filter(|row| row.bool("active").unwrap_or(false))
        .filter_map(|row| {
            compile_workflow(
                row.string("id"),
                row.string("name"),
                &normalized_json(row.json("trigger")),
                &normalized_json(row.json("context")),
                &normalized_json(row.json("steps")),
            )
        })
        .collect();
    let mut policies = Vec::new();
    for row in perms {
        let conditions = match row.json("conditions") {
            serde_json::Value::Null => Vec::new(),
            v => parse_def::<Vec<Condition>>(&v).unwrap_or_default(),
        };
        policies.push(Policy {
            id: row.string("id"),
            entity: row.string("entity"),
            action: row.string("action"),
            roles: row.text_list("roles").iter().map(|r| r.to_lowercase()).collect(),
            conditions,
        });
    }
    let mut entities = Vec::new();
    for row in ents {
        match parse_def::<EntityDef>(&row.json("definition")) {
            Ok(mut d) => {
                d.name = row.string("name");
                entities.push(d)
            }
            Err(e) => {
                tracing::warn!(entity = %row.string("name"), error = %e, "unreadable entity definition")
            }
        }
    }
    let mut relations = Vec::new();
    for row in rels {
        match parse_def::<RelationDef>(&row.json("definition")) {
            Ok(mut d) => {
                d.name = row.string("name");
                relations.push(d)
            }
            Err(e) => {
                tracing::warn!(relation = %row.string("name"), error = %e, "unreadable relation definition")
            }
        }
    }
    Ok(Registry::build(db.dialect(), entities, relations)
        .with_policies(policies)
        .with_logic(Compiled {
            rules,
            machines,
            webhooks,
            workflows,
        }))
}

/// JSON columns may hold a JSON-encoded string (imports from other backends).
fn normalized_json(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)),
        other => other,
    }
}
