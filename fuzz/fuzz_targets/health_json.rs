//! Any body with any status and content type: a report, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, bool, &[u8])| {
    let (status, json_type, body) = input;
    let content_type = json_type.then_some("application/health+json");
    let _ = shipdeck::health::health_json::parse_health(status, content_type, body);
});
