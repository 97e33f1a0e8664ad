//! Accounts (seed 3.3): register, log in, recover and change password, change email.

pub mod api;
pub mod model;
pub mod pages;
pub mod password;
pub mod service;
pub mod store;
pub mod token;
