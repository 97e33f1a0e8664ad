#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| picturedeck::fuzz::zip_import(data));
