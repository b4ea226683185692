//! The Fly credential: how it is resolved (lazily) and how it is sent.
//!
//! Macaroon tokens (`fm1…`/`fm2…`, alone or as a comma-joined bundle) go out
//! as `Authorization: FlyV1 <token>`, a token already written `FlyV1 …` as is,
//! and older user tokens as `Bearer <token>`.

use std::fmt;

use zeroize::Zeroize;

pub use crate::provider::token::TokenSource;

/// A resolved token, trimmed; zeroized on drop and never formatted.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Trim whitespace and newlines around a token.
    pub fn new(raw: &str) -> Token {
        Token(raw.trim().to_string())
    }

    /// The token as stored (for `FLY_API_TOKEN` of a flyctl child only).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value of the `Authorization` header for this token.
    pub fn header_value(&self) -> String {
        authorization(&self.0)
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(••••)")
    }
}

/// `FlyV1 <token>` for macaroons, the token itself when already prefixed, else `Bearer <token>`.
pub fn authorization(token: &str) -> String {
    let token = token.trim();
    if token.starts_with("FlyV1 ") {
        token.to_string()
    } else if token.starts_with("fm1") || token.starts_with("fm2") {
        format!("FlyV1 {token}")
    } else {
        format!("Bearer {token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_scheme_from_the_token() {
        assert_eq!(authorization(" fm2_abc\n"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm1r_a,fm2_b"), "FlyV1 fm1r_a,fm2_b");
        assert_eq!(authorization("FlyV1 fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("oldtoken"), "Bearer oldtoken");
        assert_eq!(format!("{:?}", Token::new("fm2_secret")), "Token(••••)");
    }
}
