//! Log tails: line splitting, parsing (JSON / logfmt / plain), sanitising and
//! a bounded buffer per service with a filter over the whole buffer.

pub mod filter;
pub mod parse;
pub mod ring;
pub mod source;
pub mod sources;

pub use parse::{Level, LogRecord, parse_line, parse_structured};
pub use ring::{Display, LogBuffer, LogEntry, quick_level};
