//! PictureDeck: a self-hosted AI visual-content studio in one binary.
// utoipa's derives expand to deeply nested json! and builder calls.
#![recursion_limit = "512"]

pub mod admin;
pub mod app;
pub mod audit;
pub mod backup;
pub mod catalogue;
pub mod config;
pub mod db;
pub mod error;
pub mod fuzz;
pub mod gallery;
pub mod generation;
pub mod groups;
pub mod i18n;
pub mod json;
pub mod library;
pub mod mail;
pub mod moderation;
pub mod ops;
pub mod private_files;
pub mod prompts;
pub mod ratelimit;
pub mod search;
pub mod stats;
pub mod storage;
pub mod testing;
pub mod users;
pub mod web;
