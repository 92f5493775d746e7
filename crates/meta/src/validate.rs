//! Validation of metadata documents. Messages are the contract's 422 texts.

use rocket_store::{parse_date, parse_timestamp};
use serde_json::Value as Json;

use crate::model::{EntityDef, FieldDef, RelationDef};
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
        if let Some(d) = &f.default {
            validate_default(f, ty, d)?;
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

/// A default becomes a column `DEFAULT` and the value of every insert that
/// omits the field, so it must be a value of the field's type: otherwise
/// PostgreSQL refuses the migration and SQLite stores it as is.
fn validate_default(f: &FieldDef, ty: FieldType, d: &Json) -> Result<(), String> {
    if d.is_null() {
        return Ok(());
    }
    if let Some(expected) = default_type_error(ty, d) {
        return Err(format!("field {}: default {d} is not {expected}", f.name));
    }
    if let Some(values) = &f.enum_values {
        let as_text = match d {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !values.contains(&as_text) {
            return Err(format!(
                "field {}: default {d} is not one of the enum values ({})",
                f.name,
                values.join(", ")
            ));
        }
    }
    Ok(())
}

/// What `d` should have been for `ty`, or None when it fits.
fn default_type_error(ty: FieldType, d: &Json) -> Option<&'static str> {
    let ok = match ty {
        FieldType::String | FieldType::Text => d.is_string(),
        FieldType::Int => integer_default(d).is_some_and(|i| i32::try_from(i).is_ok()),
        FieldType::BigInt => integer_default(d).is_some(),
        FieldType::Float | FieldType::Decimal => match d {
            Json::Number(n) => n.as_f64().is_some_and(f64::is_finite),
            Json::String(s) => s.parse::<f64>().is_ok_and(f64::is_finite),
            _ => false,
        },
        FieldType::Boolean => d.is_boolean(),
        FieldType::Uuid => d.as_str().is_some_and(is_uuid),
        FieldType::Timestamp => d.as_str().and_then(parse_timestamp).is_some(),
        FieldType::Date => d
            .as_str()
            .is_some_and(|s| s.len() == 10 && parse_date(s).is_some()),
        // File values are checked where they are written.
        FieldType::Json | FieldType::File => true,
    };
    if ok {
        return None;
    }
    Some(match ty {
        FieldType::String | FieldType::Text => "a string",
        FieldType::Int => "an integer in the 32-bit range",
        FieldType::BigInt => "an integer in the 64-bit range",
        FieldType::Float | FieldType::Decimal => "a finite number",
        FieldType::Boolean => "a boolean (true or false)",
        FieldType::Uuid => "a UUID",
        FieldType::Timestamp => "an RFC 3339 timestamp",
        FieldType::Date => "a date (YYYY-MM-DD)",
        FieldType::Json | FieldType::File => "valid",
    })
}

/// An integer default as a JSON integer or a string of one (both render as a
/// literal the integer column accepts on either store).
fn integer_default(d: &Json) -> Option<i64> {
    match d {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.parse::<i64>().ok(),
        _ => None,
    }
}

/// Hyphenated 8-4-4-4-12 hex, the form both stores and the API use.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: &str, default: Json, enum_values: Option<Vec<&str>>) -> Result<(), String> {
        let f = FieldDef {
            name: "f".into(),
            kind: kind.into(),
            default: Some(default),
            enum_values: enum_values.map(|v| v.into_iter().map(String::from).collect()),
            ..FieldDef::default()
        };
        let ty = FieldType::parse(kind).ok_or("unknown type")?;
        validate_default(&f, ty, f.default.as_ref().ok_or("no default")?)
    }

    #[test]
    fn defaults_fit_their_type() {
        for (kind, d) in [
            ("int", json!(0)),
            ("int", json!("42")),
            ("bigint", json!(9_000_000_000i64)),
            ("float", json!(4.5)),
            ("decimal", json!("1.25")),
            ("boolean", json!(true)),
            ("uuid", json!("6f1c0a3e-8b2d-4c1e-9f00-0123456789ab")),
            ("timestamp", json!("2024-05-01T10:00:00Z")),
            ("date", json!("2024-05-01")),
            ("string", json!("draft")),
            ("json", json!({"a": [1]})),
            ("int", Json::Null),
        ] {
            assert_eq!(check(kind, d.clone(), None), Ok(()), "{kind} {d}");
        }
    }

    #[test]
    fn defaults_of_another_type_are_refused_naming_the_field() {
        for (kind, d) in [
            ("int", json!("abc")),
            ("int", json!(1.5)),
            ("int", json!(3_000_000_000i64)),
            ("bigint", json!("9223372036854775808")),
            ("float", json!("NaN")),
            ("decimal", json!(true)),
            ("boolean", json!("true")),
            ("boolean", json!(1)),
            ("uuid", json!("not-a-uuid")),
            ("timestamp", json!("now")),
            ("date", json!("2024-13-01")),
            ("string", json!(5)),
        ] {
            let err = check(kind, d.clone(), None).expect_err(&format!("{kind} {d}"));
            assert!(err.starts_with("field f: default"), "{err}");
        }
    }

    #[test]
    fn enum_defaults_must_be_a_member() {
        assert_eq!(check("string", json!("toy"), Some(vec!["tool", "toy"])), Ok(()));
        assert_eq!(check("int", json!(2), Some(vec!["1", "2"])), Ok(()));
        let err = check("string", json!("car"), Some(vec!["tool", "toy"])).unwrap_err();
        assert!(err.contains("enum values (tool, toy)"), "{err}");
    }
}
