//! TLS to Postgres, with libpq's `sslmode` meanings over rustls:
//!
//! | `sslmode`       | TLS                      | certificate checked                 |
//! |-----------------|--------------------------|-------------------------------------|
//! | `disable`       | never                    | —                                   |
//! | `allow`/`prefer` (default) | if the server offers it | no                    |
//! | `require`       | always                   | no (chain only with `sslrootcert`)  |
//! | `verify-ca`     | always                   | chain against the root certificate  |
//! | `verify-full`   | always                   | chain and host name                 |
//!
//! The root certificate comes from `sslrootcert=PATH` (PEM), or the OS trust
//! store with `sslrootcert=system`, else `~/.postgresql/root.crt` as libpq
//! does. `allow` is treated as `prefer` (try TLS first). `sslmode` and
//! `sslrootcert` are taken out of the URL before the driver parses it, so
//! every mode works in both URL (`?sslmode=…`) and key/value form.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `sslmode=disable`.
    Disable,
    /// `sslmode=allow` or `prefer`, or none given: TLS when the server offers it.
    Prefer,
    /// `sslmode=require`.
    Require,
    /// `sslmode=verify-ca`.
    VerifyCa,
    /// `sslmode=verify-full`.
    VerifyFull,
}

/// Why a TLS setting cannot be used. Messages name the parameter and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsSetupError {
    /// An `sslmode` libpq does not know.
    #[error(
        "sslmode={0} is not a libpq sslmode; use disable, allow, prefer, require, verify-ca or verify-full"
    )]
    UnknownMode(String),
    /// verify-ca/verify-full without a root certificate.
    #[error(
        "sslmode={mode} needs the CA certificate that signed the server's: add sslrootcert=/path/to/ca.pem (or sslrootcert=system for the OS trust store)"
    )]
    NoRootCert {
        /// The mode asked for.
        mode: &'static str,
    },
    /// The root certificate file could not be used.
    #[error("sslrootcert {path}: {why}")]
    RootCert {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
}

/// The URL without `sslmode`/`sslrootcert`, and what they said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// The connection string the driver parses.
    pub url: String,
    /// The requested mode.
    pub mode: TlsMode,
    /// `sslrootcert`, if given.
    pub root_cert: Option<String>,
}

impl TlsMode {
    fn parse(value: &str) -> Result<TlsMode, TlsSetupError> {
        match value.to_ascii_lowercase().as_str() {
            "disable" => Ok(TlsMode::Disable),
            "allow" | "prefer" => Ok(TlsMode::Prefer),
            "require" => Ok(TlsMode::Require),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" => Ok(TlsMode::VerifyFull),
            other => Err(TlsSetupError::UnknownMode(other.to_string())),
        }
    }

    /// The word libpq uses.
    pub fn label(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// The driver's own mode (it knows disable/prefer/require).
    pub fn driver_mode(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        }
    }
}

/// Take `sslmode` and `sslrootcert` out of a URL or key/value string.
pub fn split_tls_params(url: &str) -> Result<TlsParams, TlsSetupError> {
    let mut mode = None;
    let mut root_cert = None;
    let mut take = |key: &str, value: &str| -> Result<bool, TlsSetupError> {
        match key.to_ascii_lowercase().as_str() {
            "sslmode" => {
                mode = Some(TlsMode::parse(value)?);
                Ok(true)
            }
            "sslrootcert" => {
                root_cert = Some(value.to_string());
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let cleaned = if url.contains("://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(k, &percent_decode(v))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            let (k, v) = token.split_once('=').unwrap_or((token, ""));
            if !take(k, v.trim_matches('\''))? {
                kept.push(token);
            }
        }
        kept.join(" ")
    };
    Ok(TlsParams {
        url: cleaned,
        mode: mode.unwrap_or(TlsMode::Prefer),
        root_cert,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls connector for these parameters (None for `disable`).
pub fn connector(params: &TlsParams) -> Result<Option<MakeRustlsConnect>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match params.mode {
        TlsMode::Disable => return Ok(None),
        TlsMode::Prefer => Arc::new(AcceptAny(provider.clone())),
        TlsMode::Require => match &params.root_cert {
            // libpq: with a root certificate, require checks the chain like verify-ca.
            Some(path) => Arc::new(ChainOnly(webpki(path, params.mode, &provider)?)),
            None => Arc::new(AcceptAny(provider.clone())),
        },
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let path = match &params.root_cert {
                Some(p) => p.clone(),
                None => default_root_cert()
                    .filter(|p| p.is_file())
                    .map(|p| p.display().to_string())
                    .ok_or(TlsSetupError::NoRootCert {
                        mode: params.mode.label(),
                    })?,
            };
            let full = webpki(&path, params.mode, &provider)?;
            if params.mode == TlsMode::VerifyFull {
                full
            } else {
                Arc::new(ChainOnly(full))
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::RootCert {
            path: String::new(),
            why: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn default_root_cert() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().join(".postgresql/root.crt"))
}

fn webpki(
    path: &str,
    mode: TlsMode,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsSetupError> {
    let bad = |why: String| TlsSetupError::RootCert {
        path: path.to_string(),
        why,
    };
    let mut roots = RootCertStore::empty();
    if path == "system" {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = roots.add(cert);
        }
    } else {
        if !Path::new(path).is_file() {
            return Err(bad(format!(
                "no such file; point sslrootcert at the CA certificate (PEM) for sslmode={}",
                mode.label()
            )));
        }
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| bad(format!("unusable certificate: {e}")))?;
        }
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    Ok(verifier)
}

/// `prefer`/`require` without a root certificate: encrypt, trust any certificate
/// (libpq's behaviour), but still check the handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the root certificate; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_rootcert_come_out_of_both_url_forms() {
        let p = split_tls_params(
            "postgres://app@db:5432/x?sslmode=verify-full&application_name=a&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(p.url, "postgres://app@db:5432/x?application_name=a");
        assert_eq!(p.mode, TlsMode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some("/etc/ca.pem"));

        let p = split_tls_params("host=db user=app sslmode=require dbname=x").unwrap();
        assert_eq!(p.url, "host=db user=app dbname=x");
        assert_eq!(p.mode, TlsMode::Require);

        let p = split_tls_params("postgres://db/x").unwrap();
        assert_eq!(
            (p.url.as_str(), p.mode),
            ("postgres://db/x", TlsMode::Prefer)
        );
        assert_eq!(
            split_tls_params("postgres://db/x?sslmode=allow")
                .unwrap()
                .mode,
            TlsMode::Prefer
        );
    }

    #[test]
    fn bad_settings_name_the_fix() {
        let e = split_tls_params("postgres://db/x?sslmode=verify").unwrap_err();
        assert!(e.to_string().contains("verify-ca or verify-full"), "{e}");
        let p =
            split_tls_params("postgres://db/x?sslmode=verify-full&sslrootcert=/nope.pem").unwrap();
        let e = connector(&p).err().unwrap();
        assert!(e.to_string().contains("/nope.pem: no such file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("ca.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let p = split_tls_params(&format!(
            "postgres://db/x?sslmode=verify-ca&sslrootcert={}",
            junk.display()
        ))
        .unwrap();
        let e = connector(&p).err().unwrap();
        assert!(e.to_string().contains("holds no certificate"), "{e}");
        assert!(
            connector(&split_tls_params("postgres://db/x?sslmode=disable").unwrap())
                .unwrap()
                .is_none()
        );
    }
}
