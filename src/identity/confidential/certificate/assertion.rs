//! The client assertion a certificate credential sends instead of a secret:
//! a JWT signed with the certificate's RSA key (RFC 7523, in the shape
//! Microsoft documents for certificate credentials).
//!
//! PS256 with `x5t#S256` by default (Microsoft's current guidance); RS256
//! with the SHA-1 `x5t` for registrations or tools that need it. `x5c`
//! carries the chain for subject-name/issuer registrations. One assertion
//! per token request: `jti` is a fresh UUID and `exp` ten minutes away.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use serde_json::json;

use crate::config::AssertionAlg;
use crate::sys::secret::Secret;

use super::load::{CertError, Loaded};

/// How long an assertion is valid: Microsoft's guidance is 5–10 minutes.
pub const LIFETIME_SECS: i64 = 600;

/// What one assertion is for.
pub struct Request<'a> {
    /// The application (client) id: `iss` and `sub`.
    pub client_id: &'a str,
    /// The exact token endpoint URL the assertion is posted to: `aud`.
    pub audience: &'a str,
    /// PS256 (`x5t#S256`) or RS256 (`x5t`).
    pub algorithm: AssertionAlg,
    /// Whether to send the chain as `x5c`.
    pub send_chain: bool,
}

/// `x5t#S256`: unpadded base64url of the SHA-256 of the certificate's DER.
pub fn thumbprint_sha256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, der))
}

/// `x5t`: unpadded base64url of the SHA-1 of the certificate's DER.
pub fn thumbprint_sha1(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, der))
}

/// The SHA-1 thumbprint as the Azure portal shows it (upper-case hex).
pub fn thumbprint_hex(der: &[u8]) -> String {
    digest(&SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A random (version 4) UUID.
fn uuid_v4(rng: &SystemRandom) -> Result<String, CertError> {
    let mut b = [0u8; 16];
    rng.fill(&mut b).map_err(|_| CertError::Sign)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Signs a fresh assertion for `request` at time `now` with `cert`'s key.
pub fn sign(cert: &Loaded, request: &Request, now: i64) -> Result<Secret<String>, CertError> {
    let leaf = cert.chain.first().ok_or(CertError::Sign)?;
    let (alg, encoding): (&str, &'static dyn RsaEncoding) = match request.algorithm {
        AssertionAlg::Ps256 => ("PS256", &RSA_PSS_SHA256),
        AssertionAlg::Rs256 => ("RS256", &RSA_PKCS1_SHA256),
    };
    let mut header = json!({ "alg": alg, "typ": "JWT" });
    match request.algorithm {
        AssertionAlg::Ps256 => header["x5t#S256"] = thumbprint_sha256(leaf).into(),
        AssertionAlg::Rs256 => header["x5t"] = thumbprint_sha1(leaf).into(),
    }
    if request.send_chain {
        header["x5c"] = cert
            .chain
            .iter()
            .map(|der| STANDARD.encode(der))
            .collect::<Vec<_>>()
            .into();
    }
    let rng = SystemRandom::new();
    let claims = json!({
        "aud": request.audience,
        "iss": request.client_id,
        "sub": request.client_id,
        "jti": uuid_v4(&rng)?,
        "nbf": now,
        "iat": now,
        "exp": now + LIFETIME_SECS,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; cert.key.public().modulus_len()];
    cert.key
        .sign(encoding, &rng, input.as_bytes(), &mut signature)
        .map_err(|_| CertError::Sign)?;
    Ok(Secret::new(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(&signature)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jti_is_a_fresh_version_4_uuid() {
        let rng = SystemRandom::new();
        let a = uuid_v4(&rng).expect("uuid");
        let b = uuid_v4(&rng).expect("uuid");
        assert_ne!(a, b);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'), "{a}");
        assert!(
            matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{a}"
        );
    }

    #[test]
    fn thumbprints_are_unpadded_base64url_of_the_der_digest() {
        // SHA-1("abc") and SHA-256("abc"), the FIPS 180 test vectors.
        assert_eq!(thumbprint_sha1(b"abc"), "qZk-NkcGgWq6PiVxeFDCbJzQ2J0");
        assert_eq!(
            thumbprint_sha256(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(
            thumbprint_hex(b"abc"),
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
    }
}
