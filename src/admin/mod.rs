//! Administration (seed 3.6): for now the account list with ban and unban.

pub mod api;
pub mod pages;
pub mod service;
