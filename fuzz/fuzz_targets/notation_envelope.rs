#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| portieris_fuzz::notation::run_envelope(data));
