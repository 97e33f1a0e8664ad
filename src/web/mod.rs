//! HTTP plumbing shared by every area: middleware, extractors, templates, assets, health, OpenAPI.

pub mod assets;
pub mod auth;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod proxy;
pub mod render;
pub mod upload;
