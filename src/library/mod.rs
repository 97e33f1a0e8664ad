//! The results library (seed 3.5). For now the 生成记录 page of the shell.

pub mod pages;
