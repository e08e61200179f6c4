//! What the AADSTS codes this helper meets mean, and what to do about each.

/// Meaning and fix for the AADSTS codes this helper meets.
pub fn aadsts(code: u64) -> (&'static str, &'static str) {
    match code {
        7000215 => (
            "invalid client secret",
            "use the secret's Value (not its Secret ID) from the app registration's \"Certificates & secrets\" page, or create a new secret, and update where this identity reads it",
        ),
        7000222 => (
            "the client secret has expired",
            "create a new client secret for the app registration and update where this identity reads it",
        ),
        7000218 => (
            "the request carried no client secret or assertion",
            "configure a client secret or certificate for this identity",
        ),
        700016 => (
            "application not found in the tenant",
            "check client_id (the Application (client) ID) and tenant; the app must be registered in, or consented to by, that tenant",
        ),
        90002 => (
            "tenant not found",
            "check the tenant id or domain, and that authority_host points at the right cloud",
        ),
        70011 => (
            "invalid scope",
            "the scope must be 499b84ac-1321-427f-aa17-267ca6975798/.default; if a proxy rewrites requests, bypass it for the authority host",
        ),
        500011 => (
            "the Azure DevOps resource is not present in the tenant",
            "use the tenant your Azure DevOps organization is connected to (Organization settings > Microsoft Entra)",
        ),
        50196 => (
            "too many identical requests: Entra detected a loop",
            "make sure the token cache works (`git-credential-entra cache list`) and retry in a few minutes",
        ),
        530033..=530035 => (
            "device-code sign-in is blocked by Conditional Access",
            "sign in with the browser or paste flow instead (`git-credential-entra login --flow browser` or `--flow paste`), or use an `azure-cli` identity after `az login`",
        ),
        50076 | 50079 => (
            "multi-factor authentication is required",
            "sign in again interactively: git-credential-entra login",
        ),
        70043 | 50173 | 700082 | 70008 => (
            "the sign-in has expired or was revoked",
            "sign in again: git-credential-entra login",
        ),
        53003 => (
            "blocked by Conditional Access",
            "a Conditional Access policy in the tenant blocks this sign-in; ask a tenant administrator to allow this principal or location",
        ),
        700027 => (
            "the client assertion's signature is invalid, or its certificate is not registered on the app",
            "upload this certificate (its public part, .cer/.pem) to the app registration's Certificates & secrets, or point the identity at the certificate that is registered; compare thumbprints with `openssl x509 -noout -fingerprint -sha1 -in CERT`",
        ),
        700023 => (
            "the client assertion's audience does not match the tenant's token endpoint",
            "use the tenant (and authority_host) the app is registered in; the assertion's aud is the token URL built from them",
        ),
        7000274 => (
            "Entra found the certificate on the app registration but will not accept it (see its text: typically expired or not yet valid)",
            "upload a current certificate to the app registration (Certificates & secrets) and point the identity at its PEM or PFX",
        ),
        700024 => (
            "the client assertion is outside its valid time range",
            "check the machine's clock; a federated token must be fresh (it is fetched per request)",
        ),
        70021 => (
            "no federated identity credential matches the assertion",
            "make the app's federated credential issuer, subject and audience match the token exactly",
        ),
        65001 => (
            "consent is missing",
            "have an administrator grant consent for Azure DevOps to this application",
        ),
        50020 => (
            "the user is not in the tenant",
            "invite the account to the tenant, or sign in to the right tenant",
        ),
        9001023 => (
            "this grant is not supported on /common or /consumers",
            "set a tenant id or domain for this identity",
        ),
        90055 => (
            "the tenant is being throttled",
            "wait a few minutes and retry; cache tokens instead of requesting them repeatedly",
        ),
        _ => (
            "see https://login.microsoftonline.com/error",
            "look the code up at https://login.microsoftonline.com/error?code= followed by the number",
        ),
    }
}
