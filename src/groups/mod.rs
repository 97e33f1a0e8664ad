//! Task groups (issue 13 items 3, 4): a batch of many tasks (a list of prompts, or one prompt
//! × seeds × models) or a comparison of one request on 2–6 models. A group is a user's row
//! whose items point at ordinary generation tasks, queued through the same path as a single
//! submit; the engine's claim lets users take turns, so a large batch does not starve others.

pub mod api;
pub mod model;
pub mod pages;
pub mod prompts;
pub mod service;
pub mod store;
