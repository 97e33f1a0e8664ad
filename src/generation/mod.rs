//! Content generation (seed 3.4). For now the main page of the logged-in shell.

pub mod pages;
