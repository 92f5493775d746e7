//! The metadata model and the per-app Registry snapshot.
//!
//! A snapshot is immutable; admin changes build a new one and swap it in, so a
//! request holds one `Arc<Registry>` from start to end. Building it does the
//! per-change work once: quoted names and fixed statements per entity and
//! relation (rendered by `rocket_store::sql`), permission condition operators
//! resolved through the query language's table (`rocket_query`).

pub mod actions;
mod load;
pub mod logic;
pub mod logic_check;
pub mod model;
pub mod permissions;
mod registry;
pub mod types;
mod validate;
pub mod webhooks;
pub mod workflows;

pub use load::load_registry;
pub use model::{parse_def, EntityDef, FieldDef, PrimaryKey, RelationDef, SlugConfig};
pub use permissions::{validate_condition, Access, Condition, Policies, Policy, RowCondition};
pub use registry::{Entity, Field, PkKind, Registry, RelKind, Relation};
pub use types::{valid_ident, FieldType};
pub use validate::{pk_kind, validate_entity, validate_relation};
