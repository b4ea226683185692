//! Random secret values from the operating system's CSPRNG, for "generate
//! instead of typing" in the rotation dialog and `--generate` on the CLI.

use zeroize::Zeroize;

use super::SecretValue;

/// Which characters a generated value uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    /// A-Z, a-z, 0-9 (safe in URLs, shells and env files).
    #[default]
    Alnum,
    /// 0-9, a-f.
    Hex,
    /// A-Z, a-z, 0-9, `-`, `_`.
    Base64url,
    /// Alphanumerics plus punctuation that needs no quoting in env files.
    Symbols,
}

impl Alphabet {
    fn chars(self) -> &'static [u8] {
        match self {
            Alphabet::Alnum => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            Alphabet::Hex => b"0123456789abcdef",
            Alphabet::Base64url => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            }
            Alphabet::Symbols => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%+,-./:=@^_~"
            }
        }
    }

    /// The next alphabet (the dialog's toggle).
    pub fn next(self) -> Alphabet {
        match self {
            Alphabet::Alnum => Alphabet::Hex,
            Alphabet::Hex => Alphabet::Base64url,
            Alphabet::Base64url => Alphabet::Symbols,
            Alphabet::Symbols => Alphabet::Alnum,
        }
    }

    /// Its name.
    pub fn label(self) -> &'static str {
        match self {
            Alphabet::Alnum => "alnum",
            Alphabet::Hex => "hex",
            Alphabet::Base64url => "base64url",
            Alphabet::Symbols => "symbols",
        }
    }

    /// Bits of entropy per character.
    pub fn bits_per_char(self) -> f64 {
        (self.chars().len() as f64).log2()
    }
}

/// Shortest and longest generated values.
pub const LENGTHS: std::ops::RangeInclusive<usize> = 8..=4096;

/// Why a value could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Length outside [`LENGTHS`].
    #[error("length {0} is out of range: choose between 8 and 4096 characters")]
    Length(usize),
    /// The OS random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// A uniformly random value of `len` characters (rejection sampling, no modulo bias).
pub fn generate(len: usize, alphabet: Alphabet) -> Result<SecretValue, GenerateError> {
    if !LENGTHS.contains(&len) {
        return Err(GenerateError::Length(len));
    }
    let chars = alphabet.chars();
    // Largest multiple of the alphabet size that fits in a byte.
    let limit = 256 - (256 % chars.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).map_err(|e| GenerateError::Random(e.to_string()))?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < len {
                out.push(char::from(chars[b as usize % chars.len()]));
            }
        }
    }
    buf.zeroize();
    Ok(SecretValue::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_length_and_alphabet_asked_for() {
        for alphabet in [
            Alphabet::Alnum,
            Alphabet::Hex,
            Alphabet::Base64url,
            Alphabet::Symbols,
        ] {
            let v = generate(64, alphabet).unwrap();
            assert_eq!(v.expose().len(), 64);
            assert!(v.expose().bytes().all(|b| alphabet.chars().contains(&b)));
        }
        assert_ne!(
            generate(32, Alphabet::Alnum).unwrap(),
            generate(32, Alphabet::Alnum).unwrap()
        );
        assert!(generate(4, Alphabet::Hex).is_err());
        assert!(generate(5000, Alphabet::Hex).is_err());
    }

    #[test]
    fn every_character_of_the_alphabet_turns_up() {
        let v = generate(4096, Alphabet::Hex).unwrap();
        for c in Alphabet::Hex.chars() {
            assert!(v.expose().as_bytes().contains(c));
        }
    }
}
