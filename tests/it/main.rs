//! One integration-test binary: every test talks to a real server over loopback HTTP.

// Tests state their expectations by unwrapping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod accounts;
mod admin;
mod backup;
mod browser;
mod catalogue;
mod claims;
mod cluster;
mod contract;
mod crawler;
mod gallery;
mod gallery_browser;
mod gallery_cache;
mod generation;
mod groups;
mod groups_browser;
mod hostile_auth;
mod hostile_media;
mod library;
mod library_pages;
mod live;
mod mail;
mod moderation;
mod moderation_results;
mod ops;
mod pages;
mod platform;
mod prompts;
mod prompts_browser;
mod providers;
mod readme;
mod remake;
mod stats;
mod storage;
mod studio;
mod vendors;
