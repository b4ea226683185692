//! Any filter text against any line: a query or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shipdeck::logs::LogBuffer;

fuzz_target!(|input: (&str, &str)| {
    let (query, line) = input;
    let mut buf = LogBuffer::new(4096);
    buf.push(line.to_string());
    let _ = buf.set_filter_text(query);
    let _ = buf.visible_len();
    let _ = buf.context_rows(2, 0, 10);
});
