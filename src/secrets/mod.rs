//! Secret values as they pass through shipdeck: held briefly, zeroized on drop,
//! never printed.

pub mod generate;

use std::fmt;
use zeroize::Zeroize;

/// A secret value on its way to a provider. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wrap a value.
    pub fn new(value: String) -> SecretValue {
        SecretValue(value)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(••••)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("••••")
    }
}

/// The digest shipdeck shows for a value it can read (the first 16 hex
/// characters of its SHA-256): the same on every provider that lets shipdeck
/// read values (Render, Railway, the demo), so drift between them shows.
pub fn digest(value: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(value.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let v = SecretValue::new("hunter2".into());
        assert!(!format!("{v:?} {v}").contains("hunter2"));
        assert_eq!(v.expose(), "hunter2");
    }
}
