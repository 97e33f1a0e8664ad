#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| picturedeck::fuzz::multipart_upload(data));
