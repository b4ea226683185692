//! Any text as a Prometheus/OpenMetrics scrape: parsed or skipped, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = shipdeck::health::prometheus::parse(&text);
});
