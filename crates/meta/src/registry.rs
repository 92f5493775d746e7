//! The compiled, immutable metadata snapshot of one app. The SQL an entity
//! or relation always needs is rendered here once, by the store's renderer.

use std::collections::HashMap;
use std::sync::Arc;

use rocket_query::{Fields, Kind};
use rocket_store::sql::{JoinTable, Table};
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
    /// Quoted names and precompiled statements (select by key, …).
    pub sql: Table,
    /// `SELECT … WHERE <slug> = $1` over live rows, when the entity has a slug.
    pub sql_by_slug: Option<String>,
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
        let columns = fields
            .iter()
            .map(|f| f.name.as_str())
            .chain(implicit_deleted_at.then_some("deleted_at"));
        let sql = Table::new(&def.table, columns, &fields[pk].name, def.soft_delete);
        let sql_by_slug = def.slug.as_ref().map(|sc| sql.select_by(&quote_ident(&sc.field)));
        let table_q = quote_ident(&def.table);
        Some(Entity {
            name: def.name.clone(),
            pk_generated: def.primary_key.generated,
            soft_delete: def.soft_delete,
            table_q,
            pk,
            pk_kind,
            implicit_deleted_at,
            sql,
            sql_by_slug,
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
}

/// The parser resolves filter and sort fields through this.
impl Fields for Entity {
    fn field_index(&self, name: &str) -> Option<usize> {
        Entity::field_index(self, name)
    }

    fn field_at(&self, index: usize) -> Option<(&str, Kind)> {
        let f = self.fields.get(index)?;
        let kind = match f.ty {
            FieldType::Int => Kind::Int,
            FieldType::BigInt => Kind::BigInt,
            FieldType::Float | FieldType::Decimal => Kind::Float,
            FieldType::Boolean => Kind::Bool,
            FieldType::Uuid => Kind::Uuid,
            FieldType::Timestamp => Kind::Timestamp,
            FieldType::Date => Kind::Date,
            FieldType::String | FieldType::Text | FieldType::Json | FieldType::File => Kind::Text,
        };
        Some((&f.name, kind))
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
    /// Quoted `target_key` (one-to-many, one-to-one).
    pub target_key_q: String,
    /// Quoted `source_key` when declared (else the source's primary key).
    source_key_q: Option<String>,
    /// The join table and its statements (many-to-many).
    pub join: Option<JoinTable>,
}

impl Relation {
    pub fn compile(def: RelationDef) -> Option<Relation> {
        let kind = match def.kind.as_str() {
            "one_to_one" => RelKind::OneToOne,
            "one_to_many" => RelKind::OneToMany,
            "many_to_many" => RelKind::ManyToMany,
            _ => return None,
        };
        let join = (kind == RelKind::ManyToMany)
            .then(|| JoinTable::new(&def.join_table, &def.source_join_key, &def.target_join_key));
        Some(Relation {
            target_key_q: quote_ident(&def.target_key),
            source_key_q: (!def.source_key.is_empty()).then(|| quote_ident(&def.source_key)),
            join,
            kind,
            def,
        })
    }

    /// The source field the relation keys on: `source_key`, else the source's primary key.
    pub fn source_key<'a>(&'a self, source: &'a Entity) -> &'a str {
        if self.def.source_key.is_empty() {
            &source.pk_field().name
        } else {
            &self.def.source_key
        }
    }

    /// [`Self::source_key`] quoted.
    pub fn source_key_q<'a>(&'a self, source: &'a Entity) -> &'a str {
        self.source_key_q.as_deref().unwrap_or(&source.pk_field().quoted)
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
        Registry::new(Default::default())
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
