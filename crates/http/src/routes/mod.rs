pub mod admin_access;
pub mod admin_schema;
pub mod ai;
pub mod app_auth;
pub mod health;
pub mod platform;
pub mod records;
pub mod ui_configs;
