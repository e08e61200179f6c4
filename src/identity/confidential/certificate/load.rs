//! Certificate credentials: a PEM file holding the certificate and its key
//! (or the key in a second PEM file), or a PKCS#12 file (`.pfx`/`.p12`).
//!
//! Loaded fresh for every token request and dropped once the assertion is
//! signed, so the private key lives in memory only that long (the buffers
//! that held it are overwritten). Everything Entra would refuse later is
//! refused here first, with the fix: a key that is not the certificate's,
//! a key type Entra does not take for app credentials (only RSA), an
//! encrypted PEM key, a PFX password that does not open the file, and a key
//! file others can read.

use std::path::{Path, PathBuf};

use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::{PemObject, SectionKind};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use zeroize::Zeroizing;

use crate::sys::files::{Links, open_regular, read_at_most, refuse_if_shared};
use crate::sys::secret::Secret;

/// The largest certificate or key file read: a chain of a few certificates
/// is a few KiB; anything near this is not a certificate file.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A certificate's key pair and chain, ready to sign one assertion.
pub struct Loaded {
    /// The RSA private key matching `chain[0]`.
    pub key: RsaKeyPair,
    /// DER certificates, the key's own (leaf) first, then the others in file order.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's validity, seconds since the epoch.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
}

/// Why a certificate credential cannot be used; each names the file and the fix.
#[derive(Debug)]
pub enum CertError {
    /// Missing, unreadable, too large, or readable by others.
    File { problem: String },
    /// Neither PEM text nor a PKCS#12 file (or PKCS#12 without the `pfx` feature).
    Format { path: PathBuf, problem: String },
    /// The file holds no certificate.
    NoCertificate { path: PathBuf },
    /// No private key in the file(s).
    NoPrivateKey { path: PathBuf, pfx: bool },
    /// The PEM key is encrypted.
    EncryptedPem { path: PathBuf },
    /// The key belongs to none of the certificates.
    Mismatch { certificate: PathBuf, key: PathBuf },
    /// A key type Entra does not accept for app credentials.
    UnsupportedKey { path: PathBuf, what: String },
    /// The key or certificate does not parse.
    Invalid { path: PathBuf, what: String },
    /// The PFX did not open with the password given (or with none).
    PfxPassword { path: PathBuf, password_given: bool },
    /// `certificate_password_env` names a variable that is not set.
    PasswordUnset { var: String },
    /// Signing failed (should not happen with a key ring accepted).
    Sign,
}

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertError::File { problem } => f.write_str(problem),
            CertError::Format { path, problem } => {
                write!(f, "certificate {}: {problem}", path.display())
            }
            CertError::NoCertificate { path } => write!(
                f,
                "certificate {}: holds no certificate (no -----BEGIN CERTIFICATE----- block). Fix: point \"certificate\" at the PEM file with the certificate, e.g. cat cert.pem key.pem > app.pem",
                path.display()
            ),
            CertError::NoPrivateKey { path, pfx: false } => write!(
                f,
                "certificate {}: holds no private key. Fix: add the key to the file (cat cert.pem key.pem > app.pem; chmod 600 app.pem) or name the key file with \"private_key\"",
                path.display()
            ),
            CertError::NoPrivateKey { path, pfx: true } => write!(
                f,
                "certificate {}: the PFX holds no private key. Fix: export it with its key (openssl pkcs12 -export -in cert.pem -inkey key.pem -out app.pfx)",
                path.display()
            ),
            CertError::EncryptedPem { path } => write!(
                f,
                "private key {}: is encrypted, and PEM keys are read unencrypted only. Fix: decrypt it into a file only you can read (umask 077; openssl pkey -in {0} -out key-plain.pem) and use that, or make a PFX (openssl pkcs12 -export -in cert.pem -inkey {0} -out app.pfx) and give its password with certificate_password_env or certificate_password_keyring",
                path.display()
            ),
            CertError::Mismatch { certificate, key } => write!(
                f,
                "the private key in {} does not belong to the certificate in {}. Fix: use the key the certificate was made with (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`)",
                key.display(),
                certificate.display()
            ),
            CertError::UnsupportedKey { path, what } => write!(
                f,
                "certificate {}: {what}; Entra accepts RSA certificates (2048 bits or more) for app credentials. Fix: create an RSA certificate (openssl req -x509 -newkey rsa:2048 ...) and upload it to the app registration",
                path.display()
            ),
            CertError::Invalid { path, what } => write!(
                f,
                "certificate {}: {what}. Fix: check that the file is the certificate (and key) the app registration uses, in PEM or PFX form",
                path.display()
            ),
            CertError::PfxPassword {
                path,
                password_given: true,
            } => write!(
                f,
                "certificate {}: the PFX password is wrong (the file did not open with it). Fix: set the password the PFX was exported with (certificate_password_env, or git-credential-entra secret set for certificate_password_keyring)",
                path.display()
            ),
            CertError::PfxPassword {
                path,
                password_given: false,
            } => write!(
                f,
                "certificate {}: the PFX is protected by a password and none is configured. Fix: set \"certificate_password_env\" (or \"certificate_password_keyring\": true and git-credential-entra secret set) on the identity",
                path.display()
            ),
            CertError::PasswordUnset { var } => write!(
                f,
                "the environment variable {var} (certificate_password_env) is not set. Fix: export {var} with the certificate's password in the environment git runs in"
            ),
            CertError::Sign => f.write_str(
                "signing the client assertion failed. Fix: check that the certificate's key is a valid RSA key",
            ),
        }
    }
}

impl std::error::Error for CertError {}

/// A buffer that held key material, overwritten when dropped (`zeroize`:
/// volatile writes the optimiser cannot drop).
type Wiped = Zeroizing<Vec<u8>>;

/// Loads `certificate` (PEM or PFX) and, for PEM, the key from `private_key`
/// when given. `password` opens a PFX (none means the empty password).
pub fn load(
    certificate: &Path,
    private_key: Option<&Path>,
    password: Option<&Secret<String>>,
) -> Result<Loaded, CertError> {
    let (bytes, shared) = read(certificate)?;
    let Some(key_path) = private_key else {
        // Others may read a certificate, not a key: refused only when the
        // file holds one (a PFX always does).
        if let Some(refusal) = shared
            && (!looks_like_pem(&bytes[..])
                || is_encrypted_pem(&bytes[..])
                || has_key(&pem_sections(certificate, &bytes[..])?))
        {
            return Err(refusal);
        }
        return from_bytes(certificate, &bytes[..], password);
    };
    if !looks_like_pem(&bytes[..]) {
        return Err(CertError::Format {
            path: certificate.into(),
            problem: "is not PEM text, and \"private_key\" applies to PEM certificates only. Fix: remove \"private_key\" for a PFX (it holds the key), or convert the certificate to PEM".into(),
        });
    }
    let certs = certificates(certificate, &pem_sections(certificate, &bytes[..])?)?;
    let (key_bytes, shared) = read(key_path)?;
    shared.map_or(Ok(()), Err)?;
    if is_encrypted_pem(&key_bytes[..]) {
        return Err(CertError::EncryptedPem {
            path: key_path.into(),
        });
    }
    let pair = key_pair(key_path, pem_sections(key_path, &key_bytes[..])?)?;
    pair_with_chain(pair, certs, certificate, key_path)
}

/// The certificate and key in `bytes` (PEM text, or a PFX opened with
/// `password`), read from `origin` (a file, or a Key Vault secret: named in
/// errors). The caller keeps `bytes` in a buffer it wipes.
pub fn from_bytes(
    origin: &Path,
    bytes: &[u8],
    password: Option<&Secret<String>>,
) -> Result<Loaded, CertError> {
    if !looks_like_pem(bytes) {
        return load_pfx(origin, bytes, password);
    }
    if is_encrypted_pem(bytes) {
        return Err(CertError::EncryptedPem {
            path: origin.into(),
        });
    }
    let sections = pem_sections(origin, bytes)?;
    let certs = certificates(origin, &sections)?;
    let pair = key_pair(origin, sections)?;
    pair_with_chain(pair, certs, origin, origin)
}

/// The certificates among PEM `sections`, in order; at least one.
fn certificates(
    path: &Path,
    sections: &[(SectionKind, Vec<u8>)],
) -> Result<Vec<Vec<u8>>, CertError> {
    let certs: Vec<Vec<u8>> = sections
        .iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| der.clone())
        .collect();
    if certs.is_empty() {
        return Err(CertError::NoCertificate { path: path.into() });
    }
    Ok(certs)
}

/// The RSA key among the PEM `sections` of `key_path`.
fn key_pair(
    key_path: &Path,
    sections: Vec<(SectionKind, Vec<u8>)>,
) -> Result<RsaKeyPair, CertError> {
    let key = sections
        .into_iter()
        .find(|(kind, _)| is_key(*kind))
        .ok_or_else(|| CertError::NoPrivateKey {
            path: key_path.into(),
            pfx: false,
        })?;
    let (kind, der) = (key.0, Zeroizing::new(key.1));
    match kind {
        SectionKind::RsaPrivateKey => RsaKeyPair::from_der(&der[..]),
        SectionKind::EcPrivateKey => {
            return Err(CertError::UnsupportedKey {
                path: key_path.into(),
                what: "the private key is an EC key".into(),
            });
        }
        _ => RsaKeyPair::from_pkcs8(&der[..]),
    }
    .map_err(|e| key_rejected(key_path, e))
}

/// Reads a file of at most [`MAX_FILE_BYTES`]; the second value is the
/// refusal to use it as a key file (others can read it), if any.
fn read(path: &Path) -> Result<(Wiped, Option<CertError>), CertError> {
    let shown = path.display();
    let (file, meta) = open_regular(path, Links::Follow).map_err(|e| CertError::File {
        problem: format!(
            "cannot read {shown} (certificate): {e}. Fix: check the path in the config file"
        ),
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(CertError::File {
            problem: format!(
                "{shown} (certificate) is not a certificate file (not a regular file under 1 MiB)"
            ),
        });
    }
    let shared = refuse_if_shared(path, &meta, "it holds a private key")
        .err()
        .map(|problem| CertError::File { problem });
    let bytes = read_at_most(file, MAX_FILE_BYTES).map_err(|e| CertError::File {
        problem: format!("cannot read {shown} (certificate): {e}"),
    })?;
    Ok((Zeroizing::new(bytes), shared))
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's traditional `Proc-Type: 4,ENCRYPTED`.
fn is_encrypted_pem(bytes: &[u8]) -> bool {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    has(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(b"Proc-Type: 4,ENCRYPTED")
}

fn is_key(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
    )
}

fn has_key(sections: &[(SectionKind, Vec<u8>)]) -> bool {
    sections.iter().any(|(kind, _)| is_key(*kind))
}

/// The PEM blocks of a file (unknown labels skipped).
fn pem_sections(path: &Path, bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, CertError> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Invalid {
            path: path.into(),
            what: format!("its PEM text is damaged ({e})"),
        })
}

fn key_rejected(path: &Path, e: ring::error::KeyRejected) -> CertError {
    match e.to_string().as_str() {
        "WrongAlgorithm" => CertError::UnsupportedKey {
            path: path.into(),
            what: "the private key is not an RSA key".into(),
        },
        "TooSmall" => CertError::UnsupportedKey {
            path: path.into(),
            what: "the RSA key is shorter than 2048 bits".into(),
        },
        "TooLarge" => CertError::UnsupportedKey {
            path: path.into(),
            what: "the RSA key is longer than 8192 bits".into(),
        },
        other => CertError::Invalid {
            path: path.into(),
            what: format!("the private key cannot be read ({other})"),
        },
    }
}

/// Puts the key's certificate first; refuses a key that is none of theirs.
fn pair_with_chain(
    key: RsaKeyPair,
    certs: Vec<Vec<u8>>,
    certificate: &Path,
    key_path: &Path,
) -> Result<Loaded, CertError> {
    // Both are the DER RSAPublicKey (modulus and exponent), canonical.
    let public = key.public().as_ref();
    let mut leaf = None;
    let mut non_rsa = false;
    for (i, der) in certs.iter().enumerate() {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Invalid {
            path: certificate.into(),
            what: format!("certificate {} in it cannot be parsed ({e})", i + 1),
        })?;
        let spki = cert.public_key();
        match spki.parsed() {
            Ok(PublicKey::RSA(_)) if spki.subject_public_key.data.as_ref() == public => {
                let validity = cert.validity();
                leaf = Some((
                    i,
                    validity.not_before.timestamp(),
                    validity.not_after.timestamp(),
                ));
                break;
            }
            Ok(PublicKey::RSA(_)) => {}
            _ => non_rsa = true,
        }
    }
    let Some((i, not_before, not_after)) = leaf else {
        return Err(if non_rsa && certs.len() == 1 {
            CertError::UnsupportedKey {
                path: certificate.into(),
                what: "the certificate's key is not RSA (an EC certificate?)".into(),
            }
        } else {
            CertError::Mismatch {
                certificate: certificate.into(),
                key: key_path.into(),
            }
        });
    };
    let mut chain = certs;
    let leaf = chain.remove(i);
    chain.insert(0, leaf);
    Ok(Loaded {
        key,
        chain,
        not_before,
        not_after,
    })
}

#[cfg(feature = "pfx")]
fn load_pfx(
    path: &Path,
    bytes: &[u8],
    password: Option<&Secret<String>>,
) -> Result<Loaded, CertError> {
    use p12_keystore::error::Error as P12;
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    let pass = password.map(|p| p.expose().as_str()).unwrap_or("");
    let store = KeyStore::from_pkcs12(bytes, pass, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
        match e {
            // A MAC that does not verify, or contents that do not decrypt
            // to valid padding: the password is wrong.
            P12::MacError(_) | P12::UnpadError => CertError::PfxPassword {
                path: path.into(),
                password_given: password.is_some_and(|p| !p.expose().is_empty()),
            },
            other => CertError::Format {
                path: path.into(),
                problem: format!(
                    "is neither PEM text nor a PKCS#12 (PFX) file this program can read ({other}). Fix: check the file, or convert it to PEM (openssl pkcs12 -in FILE -nodes -out app.pem; chmod 600 app.pem)"
                ),
            },
        }
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(CertError::NoPrivateKey {
            path: path.into(),
            pfx: true,
        });
    };
    let der = Zeroizing::new(chain.key().as_der().to_vec());
    let key = RsaKeyPair::from_pkcs8(&der[..]).map_err(|e| key_rejected(path, e))?;
    let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    if certs.is_empty() {
        return Err(CertError::NoCertificate { path: path.into() });
    }
    pair_with_chain(key, certs, path, path)
}

#[cfg(not(feature = "pfx"))]
fn load_pfx(
    path: &Path,
    _bytes: &[u8],
    _password: Option<&Secret<String>>,
) -> Result<Loaded, CertError> {
    Err(CertError::Format {
        path: path.into(),
        problem: "is not PEM text, and this build has no PKCS#12 (PFX) support (cargo feature \"pfx\"). Fix: convert it to PEM (openssl pkcs12 -in FILE -nodes -out app.pem; chmod 600 app.pem)".into(),
    })
}
