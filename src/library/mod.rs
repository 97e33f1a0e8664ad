//! The results library (seed 3.5): 生成记录 with filters and search, delete, nested folders,
//! favourites and tags.

pub mod api;
pub mod archive;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
