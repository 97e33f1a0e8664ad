//! One integration-test binary: every test talks to a real server over loopback HTTP.

mod support;

mod accounts;
mod browser;
mod mail;
mod pages;
mod platform;
