#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| picturedeck::fuzz::mp4_poster(data));
