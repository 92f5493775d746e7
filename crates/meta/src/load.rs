use rocket_core::Result;
use rocket_store::Db;

use crate::model::{parse_def, EntityDef, RelationDef};
use crate::permissions::{Condition, Policy};
use crate::registry::Registry;

/// Reads every entity and relation of an app and compiles a snapshot.
pub async fn load_registry(db: &Db) -> Result<Registry> {
    let (ents, rels, perms) = {
        let mut r = db
            .query_many(&[
                ("SELECT name, definition FROM _entities ORDER BY name", &[]),
                ("SELECT name, definition FROM _relations ORDER BY name", &[]),
                ("SELECT id, entity, action, roles, conditions FROM _permissions ORDER BY created_at, id", &[]),
            ])
            .await?
            .into_iter();
        (r.next().unwrap_or_default(), r.next().unwrap_or_default(), r.next().unwrap_or_default())
    };
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
    Ok(Registry::build(db.dialect(), entities, relations).with_policies(policies))
}
