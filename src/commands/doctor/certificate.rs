//! The certificate an identity signs with: where it comes from (a file, or
//! a Key Vault secret and the managed identity reading it), its thumbprint
//! as the Azure portal shows it, and its validity.

use super::Check;
use super::failures::from_error;
use crate::azure_devops::Target;
use crate::context::Context;
use crate::identity::{AcquireCx, CertificateFacts, Resolved};
use crate::sys::time::rfc3339;

/// The certificate the identity signs with, if any: where it comes from,
/// its thumbprint and expiry (a Key Vault one is fetched: this is a
/// diagnosis). Whether the token is worth asking for.
pub(super) fn check(
    ctx: &Context,
    identity: &Resolved,
    target: &Target,
    checks: &mut Vec<Check>,
) -> bool {
    let cx = AcquireCx::new(ctx, &identity.name, None, Some(target));
    match identity.certificate(&cx) {
        None => true,
        Some(Ok(facts)) => {
            checks.push(certificate_check(&facts, crate::sys::time::now()));
            true
        }
        Some(Err(e)) => {
            checks.push(from_error("certificate", &e.into()));
            false
        }
    }
}

/// Thumbprint and validity; an expired (or not yet valid) certificate fails.
fn certificate_check(facts: &CertificateFacts, now: i64) -> Check {
    let detail = format!(
        "{}: thumbprint {}, valid {} to {}",
        facts.source,
        facts.thumbprint,
        rfc3339(facts.not_before),
        rfc3339(facts.not_after)
    );
    if now >= facts.not_after || now < facts.not_before {
        return Check::fail(
            "certificate",
            format!("{detail}: not valid now, so Entra refuses it"),
            "create a new certificate, upload its public part to the app registration, and put it where the identity reads it",
        );
    }
    Check::pass("certificate", detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::doctor::Status;

    #[test]
    fn a_certificate_out_of_its_validity_fails() {
        let facts = CertificateFacts {
            source: "certificate /c.pem".into(),
            thumbprint: "A9993E364706816ABA3E25717850C26C9CD0D89D".into(),
            not_before: 1_000,
            not_after: 2_000,
        };
        let ok = certificate_check(&facts, 1_500);
        assert_eq!(ok.status, Status::Pass);
        assert!(
            ok.detail.starts_with(
                "certificate /c.pem: thumbprint A9993E364706816ABA3E25717850C26C9CD0D89D, valid 1970-"
            ),
            "{}",
            ok.detail
        );
        assert_eq!(certificate_check(&facts, 2_000).status, Status::Fail);
        assert_eq!(certificate_check(&facts, 999).status, Status::Fail);
    }
}
