//! Prompt help (seed 2.1 "智能提示词辅助手段和模板化生成", issue 13 item 5): templates with
//! `{placeholders}` (built-in in zh and en, and each person's own), style presets that add
//! words and a negative prompt, the history of a person's prompts with search, and an optional
//! OpenAI-compatible chat service that expands prompts and translates them between Chinese
//! and English. The generation form reaches all of it through `templates/prompts/_tools.html`.

pub mod api;
pub mod assistant;
pub mod builtin;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
