//! Validation of metadata documents. Messages are the contract's 422 texts.

use crate::model::{EntityDef, RelationDef};
use crate::registry::Registry;
use crate::types::{valid_ident, FieldType};

const PK_TYPES: &[&str] = &["uuid", "int", "integer", "bigint", "string"];

/// Checks an entity definition against itself and the other entities of the
/// app (`registry`, which may already contain the entity being updated).
pub fn validate_entity(def: &EntityDef, registry: &Registry) -> Result<(), String> {
    if def.name.trim().is_empty() {
        return Err("entity name is required".into());
    }
    if def.table.trim().is_empty() {
        return Err("table name is required".into());
    }
    if def.fields.is_empty() {
        return Err("entity must have at least one field".into());
    }
    if def.primary_key.field.is_empty() {
        return Err("primary key field is required".into());
    }
    if !valid_ident(&def.name) {
        return Err(format!(
            "invalid entity name \"{}\": use lowercase letters, digits and underscores, starting with a letter or underscore",
            def.name
        ));
    }
    if def.name.starts_with('_') || def.name == "auth" {
        return Err(format!(
            "entity name \"{}\" is reserved (it would shadow a system route)",
            def.name
        ));
    }
    if !valid_ident(&def.table) {
        return Err(format!(
            "invalid table name \"{}\": use lowercase letters, digits and underscores",
            def.table
        ));
    }
    if def.table.starts_with('_') {
        return Err(format!(
            "table name \"{}\" is reserved for system tables",
            def.table
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &def.fields {
        if !valid_ident(&f.name) {
            return Err(format!(
                "invalid field name \"{}\": use lowercase letters, digits and underscores",
                f.name
            ));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(format!("duplicate field name: {}", f.name));
        }
        let Some(ty) = FieldType::parse(&f.kind) else {
            return Err(format!(
                "unknown field type \"{}\" for field {} (use string, text, int, bigint, float, decimal, boolean, uuid, timestamp, date, json or file)",
                f.kind, f.name
            ));
        };
        if let Some(a) = &f.auto {
            if a != "create" && a != "update" {
                return Err(format!("field {}: auto must be \"create\" or \"update\"", f.name));
            }
            if ty != FieldType::Timestamp && ty != FieldType::Date {
                return Err(format!("field {}: auto fields must be of type timestamp", f.name));
            }
        }
        if let Some(p) = f.precision {
            if !(0..=18).contains(&p) {
                return Err(format!("field {}: precision must be between 0 and 18", f.name));
            }
        }
    }
    let Some(pk) = def.fields.iter().find(|f| f.name == def.primary_key.field) else {
        return Err(format!(
            "primary key field {} not found in fields",
            def.primary_key.field
        ));
    };
    if !def.primary_key.kind.is_empty() && !PK_TYPES.contains(&def.primary_key.kind.as_str()) {
        return Err(format!(
            "invalid primary key type \"{}\" (use uuid, int, bigint or string)",
            def.primary_key.kind
        ));
    }
    if def.primary_key.generated {
        let kind = pk_kind(def);
        let field_ty = FieldType::parse(&pk.kind);
        let ok = match kind.as_str() {
            "uuid" => matches!(field_ty, Some(FieldType::Uuid) | Some(FieldType::String)),
            "int" | "integer" | "bigint" => {
                matches!(field_ty, Some(FieldType::Int) | Some(FieldType::BigInt))
            }
            _ => false,
        };
        if !ok {
            return Err(format!(
                "primary key {}: only uuid and integer keys can be generated, and the field type must match",
                pk.name
            ));
        }
    }
    if let Some(slug) = &def.slug {
        let Some(f) = def.fields.iter().find(|f| f.name == slug.field) else {
            return Err(format!("slug field \"{}\" not found in fields", slug.field));
        };
        if f.kind != "string" && f.kind != "text" {
            return Err(format!(
                "slug field \"{}\" must be of type string or text",
                slug.field
            ));
        }
        if !f.unique {
            return Err(format!("slug field \"{}\" must have unique: true", slug.field));
        }
        if let Some(src) = slug.source.as_deref().filter(|s| !s.is_empty()) {
            if !def.fields.iter().any(|f| f.name == src) {
                return Err(format!("slug source field \"{src}\" not found in fields"));
            }
        }
    }
    if let Some(other) = registry
        .entities
        .values()
        .find(|e| e.def.table == def.table && e.def.name != def.name)
    {
        return Err(format!(
            "table {} is already used by entity {}",
            def.table, other.def.name
        ));
    }
    if let Some(existing) = registry.entity(&def.name) {
        // Changing a stored column's type would silently be ignored by the
        // migrator; refuse it instead.
        for f in &def.fields {
            if let Some(old) = existing.field(&f.name) {
                let new_ty = FieldType::parse(&f.kind);
                if existing.def.table == def.table
                    && new_ty.is_some_and(|t| {
                        t.column_type(registry.dialect, f.precision)
                            != old.ty.column_type(registry.dialect, old.def.precision)
                    })
                {
                    return Err(format!(
                        "field {}: changing the type of an existing column ({} → {}) is not supported",
                        f.name, old.def.kind, f.kind
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The effective primary-key type: the declared one, else derived from the field.
pub fn pk_kind(def: &EntityDef) -> String {
    if !def.primary_key.kind.is_empty() {
        return def.primary_key.kind.clone();
    }
    let field = def.fields.iter().find(|f| f.name == def.primary_key.field);
    match field.and_then(|f| FieldType::parse(&f.kind)) {
        Some(FieldType::Uuid) => "uuid".into(),
        Some(FieldType::Int) => "int".into(),
        Some(FieldType::BigInt) => "bigint".into(),
        _ => "string".into(),
    }
}

const REL_TYPES: &[&str] = &["one_to_one", "one_to_many", "many_to_many"];

pub fn validate_relation(def: &RelationDef, registry: &Registry) -> Result<(), String> {
    if def.name.trim().is_empty() {
        return Err("relation name is required".into());
    }
    if def.source.is_empty() || def.target.is_empty() {
        return Err("source and target are required".into());
    }
    let Some(source) = registry.entity(&def.source) else {
        return Err(format!("source entity not found: {}", def.source));
    };
    let Some(target) = registry.entity(&def.target) else {
        return Err(format!("target entity not found: {}", def.target));
    };
    if !REL_TYPES.contains(&def.kind.as_str()) {
        return Err(format!("invalid relation type: {}", def.kind));
    }
    if !valid_ident(&def.name) {
        return Err(format!("invalid relation name \"{}\"", def.name));
    }
    if def.kind == "many_to_many" {
        if def.join_table.is_empty() {
            return Err("join_table is required for many_to_many relations".into());
        }
        for (what, v) in [
            ("join_table", &def.join_table),
            ("source_join_key", &def.source_join_key),
            ("target_join_key", &def.target_join_key),
        ] {
            if !valid_ident(v) {
                return Err(format!("{what} \"{v}\" is not a valid identifier"));
            }
        }
        if def.join_table.starts_with('_')
            || registry.entities.values().any(|e| e.def.table == def.join_table)
        {
            return Err(format!(
                "join_table {} collides with another table",
                def.join_table
            ));
        }
        if def.source_join_key == def.target_join_key {
            return Err("source_join_key and target_join_key must differ".into());
        }
    } else {
        if def.target_key.is_empty() {
            return Err("target_key is required for one_to_one and one_to_many relations".into());
        }
        if target.field(&def.target_key).is_none() {
            return Err(format!(
                "target_key {} not found in entity {}",
                def.target_key, def.target
            ));
        }
    }
    if !def.source_key.is_empty() && source.field(&def.source_key).is_none() {
        return Err(format!(
            "source_key {} not found in entity {}",
            def.source_key, def.source
        ));
    }
    let check = |what: &str, v: &str, allowed: &[&str]| -> Result<(), String> {
        if v.is_empty() || allowed.contains(&v) {
            Ok(())
        } else {
            Err(format!(
                "invalid {what}: {v} (must be one of {})",
                allowed.join(", ")
            ))
        }
    };
    check(
        "on_delete",
        &def.on_delete,
        &["cascade", "set_null", "restrict", "detach"],
    )?;
    check("ownership", &def.ownership, &["source", "target", "none"])?;
    check("write_mode", &def.write_mode, &["diff", "replace", "append"])?;
    check("fetch", &def.fetch, &["lazy", "eager"])?;
    Ok(())
}
