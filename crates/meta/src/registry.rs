//! The compiled, immutable metadata snapshot of one app.

use std::collections::HashMap;
use std::sync::Arc;

use rocket_store::{quote_ident, Dialect};

use crate::model::{EntityDef, FieldDef, RelationDef};
use crate::types::FieldType;
use crate::validate::pk_kind;

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub quoted: String,
    pub def: FieldDef,
}

impl Field {
    pub fn is_auto(&self) -> bool {
        self.def.auto.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkKind {
    Uuid,
    Int,
    String,
}

/// One entity with everything a request needs precomputed.
#[derive(Debug)]
pub struct Entity {
    pub def: EntityDef,
    pub name: String,
    pub table_q: String,
    pub fields: Vec<Field>,
    index: HashMap<String, usize>,
    /// Index of the primary-key field in `fields`.
    pub pk: usize,
    pub pk_kind: PkKind,
    pub pk_generated: bool,
    pub soft_delete: bool,
    /// `deleted_at` is added by the engine (soft delete without a declared field).
    pub implicit_deleted_at: bool,
    /// Quoted select list: declared fields, then the implicit `deleted_at`.
    pub select_list: String,
    /// `SELECT … WHERE pk = $1` (live rows only).
    pub sql_by_pk: String,
    /// `AND "deleted_at" IS NULL` or empty: appended to every read.
    pub live_filter: &'static str,
}

impl Entity {
    pub fn compile(def: EntityDef) -> Option<Entity> {
        let mut fields = Vec::with_capacity(def.fields.len());
        for f in &def.fields {
            fields.push(Field {
                name: f.name.clone(),
                ty: FieldType::parse(&f.kind).unwrap_or(FieldType::String),
                quoted: quote_ident(&f.name),
                def: f.clone(),
            });
        }
        let index: HashMap<String, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let pk = *index.get(&def.primary_key.field)?;
        let pk_kind = match pk_kind(&def).as_str() {
            "uuid" => PkKind::Uuid,
            "int" | "integer" | "bigint" => PkKind::Int,
            _ => PkKind::String,
        };
        let implicit_deleted_at = def.soft_delete && !index.contains_key("deleted_at");
        let mut cols: Vec<String> = fields.iter().map(|f| f.quoted.clone()).collect();
        if implicit_deleted_at {
            cols.push("\"deleted_at\"".into());
        }
        let select_list = cols.join(", ");
        let table_q = quote_ident(&def.table);
        let live_filter = if def.soft_delete {
            " AND \"deleted_at\" IS NULL"
        } else {
            ""
        };
        let sql_by_pk = format!(
            "SELECT {select_list} FROM {table_q} WHERE {} = $1{live_filter}",
            fields[pk].quoted
        );
        Some(Entity {
            name: def.name.clone(),
            pk_generated: def.primary_key.generated,
            soft_delete: def.soft_delete,
            table_q,
            pk,
            pk_kind,
            implicit_deleted_at,
            select_list,
            sql_by_pk,
            live_filter,
            index,
            fields,
            def,
        })
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index.get(name).map(|i| &self.fields[*i])
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn pk_field(&self) -> &Field {
        &self.fields[self.pk]
    }

    /// Select list with a table alias prefix (`t."a", t."b"`).
    pub fn select_list_as(&self, alias: &str) -> String {
        let mut cols: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{alias}.{}", f.quoted))
            .collect();
        if self.implicit_deleted_at {
            cols.push(format!("{alias}.\"deleted_at\""));
        }
        cols.join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    OneToOne,
    OneToMany,
    ManyToMany,
}

#[derive(Debug)]
pub struct Relation {
    pub def: RelationDef,
    pub kind: RelKind,
}

impl Relation {
    pub fn compile(def: RelationDef) -> Option<Relation> {
        let kind = match def.kind.as_str() {
            "one_to_one" => RelKind::OneToOne,
            "one_to_many" => RelKind::OneToMany,
            "many_to_many" => RelKind::ManyToMany,
            _ => return None,
        };
        Some(Relation { def, kind })
    }
}

/// Everything the engine needs to serve one app, compiled once per change.
#[derive(Debug)]
pub struct Registry {
    pub dialect: Dialect,
    pub entities: HashMap<String, Arc<Entity>>,
    pub relations: Vec<Arc<Relation>>,
    relations_by_name: HashMap<String, Arc<Relation>>,
    pub policies: crate::permissions::Policies,
    pub logic: HashMap<String, crate::logic::EntityLogic>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(Dialect::Sqlite)
    }
}

impl Registry {
    pub fn new(dialect: Dialect) -> Registry {
        Registry {
            dialect,
            entities: HashMap::new(),
            relations: Vec::new(),
            relations_by_name: HashMap::new(),
            policies: Default::default(),
            logic: HashMap::new(),
        }
    }

    /// Builds a snapshot; stored documents that no longer compile are skipped
    /// (logged) rather than taking the whole app down.
    pub fn build(dialect: Dialect, entities: Vec<EntityDef>, relations: Vec<RelationDef>) -> Registry {
        let mut reg = Registry::new(dialect);
        for def in entities {
            let name = def.name.clone();
            match Entity::compile(def) {
                Some(e) => {
                    reg.entities.insert(name, Arc::new(e));
                }
                None => tracing::warn!(entity = %name, "stored entity does not compile; skipped"),
            }
        }
        for def in relations {
            let name = def.name.clone();
            if !reg.entities.contains_key(&def.source) || !reg.entities.contains_key(&def.target) {
                tracing::warn!(relation = %name, "relation names a missing entity; skipped");
                continue;
            }
            match Relation::compile(def) {
                Some(r) => {
                    let r = Arc::new(r);
                    reg.relations_by_name.insert(name, r.clone());
                    reg.relations.push(r);
                }
                None => tracing::warn!(relation = %name, "stored relation does not compile; skipped"),
            }
        }
        reg.relations.sort_by(|a, b| a.def.name.cmp(&b.def.name));
        reg
    }

    pub fn with_policies(mut self, list: Vec<crate::permissions::Policy>) -> Registry {
        self.policies = crate::permissions::Policies::new(list);
        self
    }

    pub fn with_logic(mut self, compiled: crate::logic::Compiled) -> Registry {
        self.logic = compiled.by_entity();
        self
    }

    pub fn logic(&self, entity: &str) -> Option<&crate::logic::EntityLogic> {
        self.logic.get(entity)
    }

    pub fn entity(&self, name: &str) -> Option<&Arc<Entity>> {
        self.entities.get(name)
    }

    pub fn relation(&self, name: &str) -> Option<&Arc<Relation>> {
        self.relations_by_name.get(name)
    }

    /// Resolves an include token or nested-write key on `entity` (metadata.md §3.2).
    pub fn resolve_relation(&self, entity: &str, token: &str) -> Option<&Arc<Relation>> {
        if let Some(r) = self.relations_by_name.get(token) {
            if r.def.source == entity || r.def.target == entity {
                return Some(r);
            }
        }
        if let Some(r) = self.relations.iter().find(|r| {
            (r.def.source == entity && r.def.target == token)
                || (r.def.target == entity && r.def.source == token)
        }) {
            return Some(r);
        }
        self.relations_by_name
            .get(&format!("{entity}_{token}"))
            .filter(|r| r.def.source == entity || r.def.target == entity)
    }
}
