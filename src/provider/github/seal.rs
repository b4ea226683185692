//! Sealing a secret value for GitHub: libsodium's `crypto_box_seal` with
//! the environment's public key (X25519, base64), as GitHub's REST reference
//! for `PUT …/secrets/{name}` requires. Only GitHub's private key opens it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a value could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The public key GitHub sent is not a base64 X25519 key.
    #[error("the environment's public key is not a base64 X25519 key ({0})")]
    BadKey(&'static str),
    /// Encryption failed (it does not, short of a broken random source).
    #[error("sealing the value failed")]
    Seal,
}

/// `value` sealed to `public_key` (base64), base64-encoded for `encrypted_value`.
pub fn seal(public_key: &str, value: &[u8]) -> Result<String, SealError> {
    let bytes = STANDARD
        .decode(public_key.trim())
        .map_err(|_| SealError::BadKey("not base64"))?;
    let key =
        crypto_box::PublicKey::from_slice(&bytes).map_err(|_| SealError::BadKey("not 32 bytes"))?;
    let sealed = key
        .seal(&mut crypto_box::aead::OsRng, value)
        .map_err(|_| SealError::Seal)?;
    Ok(STANDARD.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_matching_secret_key_only() {
        let secret = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        let public = STANDARD.encode(secret.public_key().as_bytes());
        let sealed = seal(&public, b"s3cr3t-value").unwrap();
        let raw = STANDARD.decode(&sealed).unwrap();
        assert_eq!(secret.unseal(&raw).unwrap(), b"s3cr3t-value");
        // Two seals of one value differ (a fresh ephemeral key each time).
        assert_ne!(seal(&public, b"s3cr3t-value").unwrap(), sealed);
        let other = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        assert!(other.unseal(&raw).is_err());
    }

    #[test]
    fn bad_keys_are_named() {
        assert_eq!(seal("%%%", b"x"), Err(SealError::BadKey("not base64")));
        assert_eq!(
            seal(&STANDARD.encode([1u8; 5]), b"x"),
            Err(SealError::BadKey("not 32 bytes"))
        );
    }
}
