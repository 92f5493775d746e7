//! Platform and multi-app management: the management database, one
//! `AppContext` per app (pool, registry snapshot, effect handlers), app
//! lifecycle, login/refresh/logout, users and invites.
//!
//! Must not: change metadata (the admin crate runs that sequence), or run
//! the read/write pipelines (engine).

pub mod accounts;
mod app;
pub mod connect;
pub mod invites;
mod jobs;
mod listen;
mod platform;
pub mod users;

pub use accounts::{Accounts, TokenPair};
pub use app::AppContext;
pub use jobs::{AppService, JobKind, MakeHandler, MakeService, Plugins};
pub use platform::{
    app_accounts, db_name_for, valid_app_name, NewApp, Platform, APP_ADMIN_EMAIL, PLATFORM_EMAIL,
    SEED_PASSWORD,
};
