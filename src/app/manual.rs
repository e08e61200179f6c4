//! What the helper's documentation says beyond the command line: the config
//! file, the environment variables it reads and the files it keeps. One
//! table each, read by both `--help` (here) and the man page
//! (`commands::manpage`), so the two never disagree; the tests hold the
//! tables to the config loader and to the variables the source reads.

use crate::config::Kind;

/// A name (a key, a variable, a path) and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// The key, variable(s) or path, as written.
    pub name: &'static str,
    /// What it does, in a sentence or two.
    pub what: &'static str,
}

const fn item(name: &'static str, what: &'static str) -> Item {
    Item { name, what }
}

/// Where the config file is, and what happens without one.
pub const CONFIG_FILE: &str = "$XDG_CONFIG_HOME/git-credential-entra/config.json (XDG_CONFIG_HOME defaults to ~/.config; on Windows %APPDATA%\\git-credential-entra\\config.json), or the absolute path given by --config or GIT_CREDENTIAL_ENTRA_CONFIG, which must then exist. A JSON object; it must not be writable by group or others. With no file, every Azure DevOps remote uses the identity auto.";

/// The config file's top-level keys (the loader accepts exactly these).
pub const CONFIG_KEYS: &[Item] = &[
    item(
        "identities",
        "{ \"NAME\": { \"type\": TYPE, ... } }: the identities, under names of your choice; the types and their fields are below.",
    ),
    item(
        "routes",
        "[ { \"url\": \"https://dev.azure.com/ORG[/PROJECT]\", \"identity\": \"NAME\" } ]: which identity answers for an organization or project; the longest matching url wins, no match means auto.",
    ),
    item(
        "hosts",
        "[ \"https://ado.example.com\" ]: Azure DevOps Server hosts to answer for, besides dev.azure.com and *.visualstudio.com.",
    ),
    item(
        "authority_host",
        "Entra's address for every identity (default: AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com); an identity may set its own.",
    ),
    item(
        "cache",
        "Where tokens are cached: auto (default), keyring, keyutils, file or none; GIT_CREDENTIAL_ENTRA_CACHE overrides it.",
    ),
    item(
        "refresh_margin_seconds",
        "Get a new token this long before the cached one expires (default 300).",
    ),
    item(
        "managed_identity_timeout_seconds",
        "How long a managed identity's endpoint may take, retries included (default 30).",
    ),
];

/// The identity types, in the order of [`Kind::ALL`], with their fields.
pub const IDENTITY_TYPES: &[Item] = &[
    item(
        "service-principal",
        "tenant, client_id, and one of client_secret_env, client_secret_file, client_secret_keyring: true or certificate (PEM, or .pfx/.p12, or a Key Vault secret URL https://VAULT.vault.azure.net/secrets/NAME read with a managed identity; with private_key, certificate_password_env, certificate_password_keyring, send_certificate_chain, assertion_algorithm, key_vault_identity); authority_host.",
    ),
    item(
        "managed-identity",
        "At most one of client_id, object_id, resource_id (none: the system-assigned identity); managed_identity_timeout_seconds. The endpoint is found from the environment (see ENVIRONMENT), else IMDS.",
    ),
    item(
        "workload-identity",
        "tenant, client_id, assertion: file (with token_file), github-actions, azure-pipelines (with service_connection_id) or managed-identity (with managed_identity_client_id); audience; authority_host.",
    ),
    item(
        "environment",
        "The AZURE_* variables, as Azure's SDKs read them (see ENVIRONMENT); authority_host.",
    ),
    item(
        "azure-cli",
        "A token from `az account get-access-token`; tenant (optional).",
    ),
    item(
        "azure-powershell",
        "A token from Azure PowerShell's `Get-AzAccessToken` (pwsh; Windows PowerShell where pwsh is absent on Windows), run once per token lifetime; tenant (optional).",
    ),
    item(
        "azure-developer-cli",
        "A token from `azd auth token`; tenant (optional).",
    ),
    item(
        "user",
        "A person signs in once (login), then tokens are refreshed silently: tenant (optional), client_id, flow (auto, browser, paste, device-code), login_hint, authority_host.",
    ),
    item(
        "pipeline-token",
        "The Azure Pipelines job token from the variable named by variable (default SYSTEM_ACCESSTOKEN); never cached.",
    ),
    item(
        "auto",
        "The first that can answer here, in the order of Azure's DefaultAzureCredential: environment, workload identity, managed identity, the Azure CLI, Azure PowerShell (with Az.Accounts installed), the Azure Developer CLI (signed in), then a sign-in when a person can answer; authority_host.",
    ),
];

/// Every environment variable the helper reads, the helper's own first.
/// Secrets named in the config (`client_secret_env`, `certificate_password_env`,
/// a `pipeline-token`'s `variable`) come on top.
pub const ENVIRONMENT: &[Item] = &[
    item(
        "GIT_CREDENTIAL_ENTRA_CONFIG",
        "The config file, an absolute path (--config overrides it); it must exist.",
    ),
    item(
        "GIT_CREDENTIAL_ENTRA_IDENTITY",
        "The identity for every request, bypassing routes (--identity overrides it).",
    ),
    item(
        "GIT_CREDENTIAL_ENTRA_CACHE",
        "Where tokens are cached: auto, keyring, keyutils, file or none (overrides the config's cache).",
    ),
    item(
        "GIT_CREDENTIAL_ENTRA_TRACE",
        "1 (or 2, true, yes, on): trace to stderr, as -vv, tokens redacted; an absolute path: append the trace to that file; 0, false, no, off: no trace.",
    ),
    item(
        "GIT_CREDENTIAL_ENTRA_INTERACTIVE",
        "never: never prompt, open a browser or sign in; always: a device-code sign-in even without a terminal (approved from a CI log).",
    ),
    item(
        "GIT_TERMINAL_PROMPT",
        "0: no prompt and no sign-in, as for git.",
    ),
    item(
        "CI, TF_BUILD, GITHUB_ACTIONS",
        "Any set: a CI job, where no sign-in is started.",
    ),
    item(
        "HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_RUNTIME_DIR",
        "Where the config, the cache and the lock files are (see FILES); absolute values only. On Windows: APPDATA, LOCALAPPDATA, USERPROFILE.",
    ),
    item(
        "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN, AZURE_FEDERATED_TOKEN_FILE",
        "The environment identity (and auto), as Azure's SDKs read them; AZURE_CLIENT_ID alone selects auto's user-assigned managed identity.",
    ),
    item(
        "AZURE_AUTHORITY_HOST",
        "Entra's address when the config sets no authority_host.",
    ),
    item(
        "AZURE_TOKEN_CREDENTIALS",
        "Narrows auto as for Azure's SDKs: dev, prod, or one credential's name.",
    ),
    item(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "Replaces IMDS's address (http://169.254.169.254) for a managed identity.",
    ),
    item(
        "IDENTITY_ENDPOINT, IDENTITY_HEADER, IDENTITY_SERVER_THUMBPRINT, IMDS_ENDPOINT, MSI_ENDPOINT, MSI_SECRET",
        "The managed-identity endpoint a platform announces: App Service and Functions, Azure Arc, Cloud Shell (Service Fabric and Azure Machine Learning are named and refused).",
    ),
    item(
        "SYSTEM_ACCESSTOKEN, SYSTEM_OIDCREQUESTURI",
        "Azure Pipelines: the job token (pipeline-token), and with it the OIDC endpoint (workload-identity assertion azure-pipelines).",
    ),
    item(
        "ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GitHub Actions' OIDC endpoint (workload-identity assertion github-actions).",
    ),
    item(
        "HTTPS_PROXY, ALL_PROXY, NO_PROXY (or lower case)",
        "The proxy when git's http.proxy is not set, and the hosts that bypass it.",
    ),
    item(
        "GIT_SSL_CAINFO, GIT_SSL_CAPATH, GIT_SSL_NO_VERIFY, SSL_CERT_FILE, SSL_CERT_DIR",
        "CA certificates to trust, as git reads them (over http.sslCAInfo, http.sslCAPath, http.sslVerify), and the system's bundle.",
    ),
    item(
        "BROWSER, DISPLAY, WAYLAND_DISPLAY, WSL_DISTRO_NAME",
        "How the browser sign-in opens a browser, and whether one can be opened here.",
    ),
    item(
        "DBUS_SESSION_BUS_ADDRESS",
        "The session bus of the Secret Service keyring (Linux).",
    ),
    item(
        "PATH",
        "Where az, pwsh and azd are found (absolute directories only).",
    ),
    item(
        "PSModulePath, XDG_DATA_HOME, AZD_CONFIG_DIR",
        "Where auto looks for Azure PowerShell's Az.Accounts module (with PowerShell's own module directories; on Windows under USERPROFILE, OneDrive and ProgramFiles) and for the Azure Developer CLI's sign-in (else ~/.azd).",
    ),
    item("NO_COLOR", "Set: doctor prints no colour."),
];

/// The files the helper reads and keeps (unix paths; Windows in the last).
pub const FILES: &[Item] = &[
    item(
        "$XDG_CONFIG_HOME/git-credential-entra/config.json",
        "The config file (see CONFIGURATION). XDG_CONFIG_HOME defaults to ~/.config.",
    ),
    item(
        "$XDG_CACHE_HOME/git-credential-entra/tokens/",
        "Access tokens, one file (0600) per principal, when the cache is file or a keyring refused an entry; never a refresh token or a secret. XDG_CACHE_HOME defaults to ~/.cache.",
    ),
    item(
        "$XDG_CACHE_HOME/git-credential-entra/tenants/",
        "The tenant of each organization, as discovered (asked again after 7 days).",
    ),
    item(
        "$XDG_CACHE_HOME/git-credential-entra/imds-probe.json",
        "Whether IMDS answered here: remembered for a day, a miss for 5 minutes.",
    ),
    item(
        "$XDG_CACHE_HOME/git-credential-entra/notices/",
        "Markers, so each notice about weaker caching is given once.",
    ),
    item(
        "$XDG_RUNTIME_DIR/git-credential-entra/",
        "Lock files (else under $XDG_CACHE_HOME/git-credential-entra/locks/): one per principal, so parallel git processes make one token request; a failed request is kept beside its lock for a short time.",
    ),
    item(
        "~/.gitconfig",
        "The credential helper entries configure writes (or the file given with --file, --local or --system) and unconfigure removes.",
    ),
    item(
        "%APPDATA%, %LOCALAPPDATA%",
        "On Windows: the config file under %APPDATA%\\git-credential-entra, the rest under %LOCALAPPDATA%\\git-credential-entra.",
    ),
];

/// The identity types' table in the order the loader names them.
pub fn identity_types() -> impl Iterator<Item = &'static Item> {
    Kind::ALL
        .into_iter()
        .filter_map(|kind| IDENTITY_TYPES.iter().find(|t| t.name == kind.config_name()))
}

/// The sections `--help` prints after the example (the man page renders
/// the same tables as CONFIGURATION, ENVIRONMENT and FILES).
pub fn long_help() -> String {
    let mut out = String::new();
    let mut section = |title: &str, intro: Option<&str>, items: &mut dyn Iterator<Item = &Item>| {
        out.push_str("\n\n");
        out.push_str(title);
        out.push(':');
        if let Some(intro) = intro {
            out.push_str("\n  ");
            out.push_str(intro);
        }
        for i in items {
            out.push_str(&format!("\n  {}\n          {}", i.name, i.what));
        }
    };
    section("Configuration", Some(CONFIG_FILE), &mut CONFIG_KEYS.iter());
    section("Identity types", None, &mut identity_types());
    section("Environment", None, &mut ENVIRONMENT.iter());
    section("Files", None, &mut FILES.iter());
    out
}

#[cfg(test)]
mod tests;
