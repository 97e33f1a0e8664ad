//! Content generation (seed 3.4): tasks queued in the `generations` table, run by the engine
//! through model providers, results kept in our own storage.

pub mod api;
pub mod engine;
pub mod live;
pub mod model;
pub mod pages;
pub mod providers;
pub mod service;
pub mod store;
pub mod stream;
