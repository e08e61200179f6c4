//! The PowerShell script that asks Az.Accounts for the token, and how it is
//! handed to PowerShell: `-EncodedCommand`, base64 of its UTF-16LE text, as
//! Azure's SDKs do.
//!
//! Why not stdin (`-Command -`): PowerShell reads a script from stdin as if
//! typed, line by line, so a multi-line `try`/`if` needs blank lines in the
//! right places and a parse error leaves it waiting for more input; an
//! encoded command is parsed whole. It is visible in the process list, which
//! is why the script holds nothing secret: the resource id and the tenant,
//! which the config loader accepted only as a GUID or a domain name and
//! which is checked again here, so it cannot close its quotes and run
//! PowerShell of its own. The token leaves PowerShell only on stdout.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::azure_devops::RESOURCE;
use crate::entra::check_tenant;

/// What the script writes on stderr, and exits 1 with, when Az.Accounts
/// cannot be imported (the SDKs' sentinel, in our words).
pub(super) const NO_MODULE: &str = "NO_AZ_ACCOUNTS_MODULE";

/// The script for `tenant` (none: the signed-in context's tenant).
///
/// * Az.Accounts 2.2.0 is the oldest with `Get-AzAccessToken -ResourceUrl`.
/// * Its `Token` is a string before 5.0 and a `SecureString` from 5.0 on;
///   2.17 to 4.x return a `SecureString` when asked (`-AsSecureString`) and
///   otherwise warn that they soon will. Either way a `SecureString` is
///   converted through `NetworkCredential`, which Windows PowerShell 5.1
///   (.NET Framework) and PowerShell 7 both have; `ConvertFrom-SecureString
///   -AsPlainText` exists only in PowerShell 7.
/// * `ExpiresOn` is a `DateTimeOffset`: written as Unix seconds, so no
///   culture or time zone formats it.
/// * Any failure is written as its message alone on stderr (no PowerShell
///   error record with positions and colours) and exits 1.
pub(super) fn script(tenant: Option<&str>) -> String {
    let tenant = match tenant.map(check_tenant) {
        None => String::new(),
        Some(Ok(t)) => t,
        // Never reached through the config loader, which checks it too.
        Some(Err(_)) => return "[Console]::Error.WriteLine('the configured tenant is not a tenant id or domain name'); exit 1".into(),
    };
    format!(
        r#"$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
try {{
    $m = Import-Module Az.Accounts -MinimumVersion 2.2.0 -PassThru -ErrorAction SilentlyContinue -ErrorVariable importError -WarningAction SilentlyContinue
    if (-not $m) {{
        [Console]::Error.WriteLine('{NO_MODULE} ' + ($importError | Select-Object -First 1))
        exit 1
    }}
    $p = @{{ ResourceUrl = '{RESOURCE}'; WarningAction = 'SilentlyContinue' }}
    $tenant = '{tenant}'
    if ($tenant) {{ $p['TenantId'] = $tenant }}
    if ($m.Version -ge [version]'2.17.0' -and $m.Version -lt [version]'5.0.0') {{ $p['AsSecureString'] = $true }}
    $t = Get-AzAccessToken @p
    $v = $t.Token
    if ($v -is [System.Security.SecureString]) {{ $v = [System.Net.NetworkCredential]::new('', $v).Password }}
    $o = [ordered]@{{ Token = $v; ExpiresOn = $t.ExpiresOn.ToUnixTimeSeconds() }}
    [Console]::Out.WriteLine(($o | ConvertTo-Json -Compress))
}} catch {{
    [Console]::Error.WriteLine($_.Exception.Message)
    exit 1
}}
"#
    )
}

/// `-EncodedCommand`'s form of `script`: base64 of its UTF-16LE bytes.
pub(super) fn encode(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    STANDARD.encode(bytes)
}
