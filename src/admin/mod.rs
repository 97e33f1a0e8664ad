//! Administration (seed 3.6): accounts (search, usage, roles, quotas, bans with a reason) and
//! the audit log, each with a page and a JSON API.

pub mod api;
pub mod pages;
pub mod service;
pub mod store;
