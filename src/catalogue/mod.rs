//! The model catalogue and cost (issue 13 items 2 and 6): what each configured model can do,
//! enforced at submit; the estimate before a submit; per-task charges with refunds of failed
//! and canceled tasks; the admins' per-user monthly budgets.

pub mod api;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
