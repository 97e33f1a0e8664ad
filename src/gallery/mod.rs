//! The public gallery "PICTUREDECK" (seed 5.1 ⑦⑧, issue 12): publishing results as works,
//! browsing and searching them, a work's page, authors' pages, likes, favourites, follows
//! and comments.

pub mod api;
pub mod cache;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
