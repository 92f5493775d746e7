//! Auto-migration: tables, added columns, join tables and indexes from
//! metadata. Never drops or rewrites: removed fields only disappear from the API.
//!
//! This module only translates definitions into the store's DDL specs; the
//! SQL for each dialect is `rocket_store::ddl`.

use rocket_error::{Error, Result};
use rocket_meta::{EntityDef, FieldDef, FieldType, Registry, RelationDef};
use rocket_store::ddl::{
    self, ColumnSpec, DdlError, DeferredIndex, IndexSpec, JoinTableSpec, KeyDefault, Literal, TableSpec,
};
use rocket_store::{Db, Tx};

/// Index statements to run after commit (PostgreSQL `CONCURRENTLY`, so a big
/// table is not locked by an index build): `(index name, statement)`.
#[derive(Debug, Default)]
pub struct Deferred {
    pub indexes: Vec<(String, String)>,
}

impl From<Vec<DeferredIndex>> for Deferred {
    fn from(built: Vec<DeferredIndex>) -> Self {
        Deferred {
            indexes: built.into_iter().map(|d| (d.name, d.sql)).collect(),
        }
    }
}

fn field_type(f: &FieldDef) -> FieldType {
    FieldType::parse(&f.kind).unwrap_or(FieldType::String)
}

fn column(f: &FieldDef) -> ColumnSpec {
    ColumnSpec {
        name: f.name.clone(),
        ty: field_type(f),
        precision: f.precision,
        not_null: f.required && !f.nullable && f.auto.is_none(),
        default: f.default.as_ref().map(Literal::from_json),
    }
}

fn key_default(def: &EntityDef) -> KeyDefault {
    if !def.primary_key.generated {
        return KeyDefault::None;
    }
    match rocket_meta::pk_kind(def).as_str() {
        "uuid" => KeyDefault::RandomUuid,
        "int" | "integer" => KeyDefault::Identity,
        "bigint" => KeyDefault::BigIdentity,
        _ => KeyDefault::None,
    }
}

/// The table `def` describes: its fields in order, the engine's `deleted_at`
/// for soft delete when not declared, and the automatic indexes (unique and
/// indexed fields, then the soft-delete partial index).
fn table_spec(def: &EntityDef) -> TableSpec {
    let pk = &def.primary_key.field;
    let mut columns: Vec<ColumnSpec> = def.fields.iter().map(column).collect();
    if def.soft_delete && !def.fields.iter().any(|f| f.name == "deleted_at") {
        columns.push(ColumnSpec {
            name: "deleted_at".into(),
            ty: FieldType::Timestamp,
            precision: None,
            not_null: false,
            default: None,
        });
    }
    let mut indexes: Vec<IndexSpec> = def
        .fields
        .iter()
        .filter(|f| &f.name != pk)
        .filter_map(|f| {
            if f.unique {
                Some(IndexSpec::unique(&f.name))
            } else if f.indexed {
                Some(IndexSpec::plain(&f.name))
            } else {
                None
            }
        })
        .collect();
    if def.soft_delete {
        indexes.push(IndexSpec {
            only_null: true,
            ..IndexSpec::plain("deleted_at")
        });
    }
    TableSpec {
        name: def.table.clone(),
        primary_key: pk.clone(),
        key_default: key_default(def),
        columns,
        indexes,
    }
}

/// Brings `def.table` in line with `def` inside `tx`. Unique indexes are built
/// in the transaction (a duplicate fails the whole change); plain indexes on an
/// existing PostgreSQL table are returned for a concurrent build after commit.
pub async fn migrate_entity(tx: &mut Tx, def: &EntityDef) -> Result<Deferred> {
    let built = ddl::sync_table(tx, &table_spec(def))
        .await
        .map_err(migration_error)?;
    Ok(built.into())
}

/// Join table for many-to-many (if missing) and the foreign-key index for
/// one-to-one/one-to-many relations.
pub async fn migrate_relation(tx: &mut Tx, def: &RelationDef, reg: &Registry) -> Result<Deferred> {
    let (Some(source), Some(target)) = (reg.entity(&def.source), reg.entity(&def.target)) else {
        return Ok(Deferred::default());
    };
    if def.kind == "many_to_many" {
        let skey = if def.source_key.is_empty() {
            &source.def.primary_key.field
        } else {
            &def.source_key
        };
        let spec = JoinTableSpec {
            name: def.join_table.clone(),
            source_column: def.source_join_key.clone(),
            source_type: source.field(skey).map(|f| f.ty).unwrap_or(FieldType::String),
            target_column: def.target_join_key.clone(),
            target_type: target.pk_field().ty,
        };
        ddl::sync_join_table(tx, &spec).await.map_err(migration_error)?;
        return Ok(Deferred::default());
    }
    if target.field(&def.target_key).is_some_and(|f| !f.def.unique) {
        let built = ddl::sync_index(tx, &target.def.table, &IndexSpec::plain(&def.target_key))
            .await
            .map_err(migration_error)?;
        return Ok(built.into());
    }
    Ok(Deferred::default())
}

/// Builds deferred indexes; a failed concurrent build leaves an invalid index
/// behind, which is dropped so a later attempt can retry it.
pub async fn run_deferred(db: &Db, deferred: Deferred) {
    let indexes = deferred
        .indexes
        .into_iter()
        .map(|(name, sql)| DeferredIndex { name, sql });
    ddl::build_deferred(db, indexes).await;
}

/// A refused statement is 422 with the database's message (the transaction
/// then rolls back, leaving the old schema and metadata).
fn migration_error(e: DdlError) -> Error {
    match e {
        DdlError::Store(e) => Error::from(e),
        DdlError::Rejected(e) => Error::validation(format!("migration failed: {}", e.message)),
    }
}
