//! Any bytes as a log line: parsing, the display form and the level scan
//! never panic, and what is drawn holds no control character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shipdeck::logs::LogBuffer;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data).into_owned();
    let _ = shipdeck::logs::parse::parse_line(&line);
    let mut buf = LogBuffer::new(4096);
    buf.push(line);
    if let Some(entry) = buf.visible(0) {
        let shown = entry.display();
        assert!(!shown.text.chars().any(|c| c.is_control()), "{shown:?}");
    }
});
