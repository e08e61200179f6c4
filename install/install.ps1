# Installs git-credential-entra on Windows. Run `Get-Help .\install\install.ps1`
# or `.\install\install.ps1 -Help` for usage.
<#
.SYNOPSIS
Builds git-credential-entra (release), installs it, and routes Azure DevOps
remotes to it in your global git config.

.DESCRIPTION
Installs to $env:LOCALAPPDATA\Programs\git-credential-entra\bin (or -Prefix),
then runs `git-credential-entra configure`, which prints every change it makes
and keeps the helper lines it replaces so `unconfigure` puts them back. While no
identity can answer yet, configure writes nothing (the helpers you have keep
working) and says to run it again once one can.
Prerequisites (checked first, each with its fix): git; for building, Rust and
cargo >= 1.89 (https://rustup.rs) with the MSVC build tools. -Uninstall runs
`unconfigure`, then removes the binary (and the folders it created, if empty).
There is no man page on Windows: `git-credential-entra --help` has the text.

-Release builds nothing: it downloads the prebuilt x64 zip and SHA256SUMS (the
latest release, or -Version), or takes them from -From (a mirror, an internal
artifact store, or a folder such as dist\), checks the zip against SHA256SUMS,
and only then installs as above. Without -Version, -From must list one version
for Windows in its SHA256SUMS. A failed download, a checksum mismatch or a
machine without a prebuilt binary ends with one line and installs nothing.

.EXAMPLE
.\install\install.ps1
.\install\install.ps1 -Binary target\release\git-credential-entra.exe
.\install\install.ps1 -Release
.\install\install.ps1 -Release -Version 1.2.0 -From \\fileserver\tools\git-credential-entra
.\install\install.ps1 -Uninstall
#>
param(
    [string]$Prefix = (Join-Path $env:LOCALAPPDATA 'Programs\git-credential-entra'),
    [string]$Binary = '',
    [switch]$Release,
    [string]$Version = '',
    [string]$From = '',
    [switch]$NoConfigure,
    [switch]$Uninstall,
    [switch]$Help
)
$ErrorActionPreference = 'Stop'

# Where -Release downloads from, as in install.sh: the project's GitHub
# releases. OWNER is a placeholder: the project has no public home yet, so
# until this line names it, -Release needs -From.
$Releases = 'https://github.com/OWNER/git-credential-entra/releases'
$ReleaseTmp = $null

# One line on stderr and exit 1, after removing what -Release downloaded.
function Fail([string]$Message) {
    if ($script:ReleaseTmp) { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $script:ReleaseTmp }
    [Console]::Error.WriteLine("install.ps1: $Message")
    exit 1
}

if ($Help) { Get-Help $MyInvocation.MyCommand.Path -Detailed; exit 0 }

$Prefix = [System.IO.Path]::GetFullPath($Prefix)
$BinDir = Join-Path $Prefix 'bin'
$Exe = Join-Path $BinDir 'git-credential-entra.exe'

if ($Uninstall) {
    # As install.sh: unconfigure first; if it fails, the binary stays so it can be retried.
    if (Test-Path $Exe) {
        Write-Host 'install.ps1: removing the git config that configure wrote'
        & $Exe unconfigure
        if ($LASTEXITCODE -ne 0) { throw "unconfigure failed; the binary is left in place so you can retry: $Exe unconfigure" }
        Remove-Item -Force $Exe
        Write-Host "install.ps1: removed $Exe"
    } else {
        Write-Host "install.ps1: no binary at $Exe; not touching the git config"
    }
    # Directories this script created, only if nothing else lives there.
    foreach ($d in @($BinDir, $Prefix)) {
        if ((Test-Path $d) -and -not (Get-ChildItem -Force $d)) { Remove-Item $d }
    }
    exit 0
}

$missing = $false
if (-not (Get-Command git -ErrorAction SilentlyContinue)) {
    Write-Error 'install.ps1: missing git. Fix: winget install Git.Git' -ErrorAction Continue; $missing = $true
}
$Root = Split-Path -Parent $PSScriptRoot
if ($Release -and $Binary) { Fail '-Release and -Binary exclude each other: use one' }
if (-not $Release -and ($Version -or $From)) { Fail '-Version and -From go with -Release' }
if (-not $Binary -and -not $Release) {
    $cargo = Get-Command cargo -ErrorAction SilentlyContinue
    if (-not $cargo) {
        Write-Error 'install.ps1: missing cargo. Fix: install Rust >= 1.89 from https://rustup.rs' -ErrorAction Continue; $missing = $true
    } else {
        $v = (cargo --version) -replace '^cargo (\d+)\.(\d+).*', '$1.$2'
        if ([version]$v -lt [version]'1.89') {
            Write-Error "install.ps1: cargo $v is too old; 1.89 or newer is needed. Fix: rustup update stable" -ErrorAction Continue; $missing = $true
        }
    }
}
if ($missing) { exit 1 }

# -Release: the zip for this machine, downloaded and checked in a temporary
# folder before the prefix is touched, so a failure leaves nothing there.
function Get-ReleaseFile([string]$Name, [string]$To) {
    if ($IsUrl) {
        try { Invoke-WebRequest -UseBasicParsing -TimeoutSec 600 -Uri "$Source/$Name" -OutFile $To }
        catch { Fail "cannot download $Source/$Name ($($_.Exception.Message -replace '\s+', ' ')). Fix: check -Version and -From, or the network" }
    } else {
        $file = Join-Path $Source $Name
        if (-not (Test-Path -PathType Leaf $file)) { Fail "no $Name in $Source. Fix: point -From at the folder holding the archives and SHA256SUMS" }
        Copy-Item $file $To
    }
}
if ($Release) {
    # 32-bit PowerShell on 64-bit Windows names the machine in PROCESSOR_ARCHITEW6432.
    $arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
    if ($arch -ne 'AMD64') { Fail "no prebuilt binary for Windows $arch (there is for x64). Fix: build from source: install\install.ps1 without -Release" }
    $Target = 'x86_64-pc-windows-gnu'
    $RelVersion = $Version -replace '^v', ''
    if ($RelVersion -eq 'latest') { $RelVersion = '' }
    if ($RelVersion -notmatch '^[0-9A-Za-z.+-]*$') { Fail "-Version ${Version}: not a version (like 1.2.0)" }
    if ($From) {
        $Source = $From.TrimEnd('/', '\')
        $IsUrl = $Source -match '^[A-Za-z][A-Za-z0-9+.-]*://'
        if (-not $IsUrl -and -not (Test-Path -PathType Container $Source)) { Fail "-From ${From}: no such folder (nor a URL)" }
    } else {
        if ($Releases -match '/OWNER/') { Fail 'this copy of install.ps1 names no download location yet (the project has no public releases page). Fix: -From URL or folder, where the archives and SHA256SUMS are' }
        $IsUrl = $true
        $Source = if ($RelVersion) { "$Releases/download/v$RelVersion" } else { "$Releases/latest/download" }
    }
    if ($IsUrl) {
        # Windows PowerShell 5.1 may not offer TLS 1.2 by default; its progress bar slows downloads.
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        $ProgressPreference = 'SilentlyContinue'
    }
    $script:ReleaseTmp = Join-Path ([IO.Path]::GetTempPath()) "git-credential-entra-$([guid]::NewGuid())"
    New-Item -ItemType Directory -Path $ReleaseTmp | Out-Null
    $sumsFile = Join-Path $ReleaseTmp 'SHA256SUMS'
    Get-ReleaseFile 'SHA256SUMS' $sumsFile
    # "<hex>  <name>" lines (or "<hex> *<name>"), as install.sh reads them.
    $pattern = '^([0-9a-fA-F]{64}) [ *](git-credential-entra-.*-' + [regex]::Escape($Target) + '\.zip)$'
    $sums = @(Get-Content $sumsFile | ForEach-Object {
        if ($_.TrimEnd("`r") -match $pattern) { [pscustomobject]@{ Hash = $Matches[1]; Name = $Matches[2] } }
    })
    if ($RelVersion) {
        $name = "git-credential-entra-$RelVersion-$Target.zip"
        $entry = $sums | Where-Object { $_.Name -eq $name } | Select-Object -First 1
        if (-not $entry) { Fail "SHA256SUMS at $Source has no $name, so nothing was installed. Fix: check -Version (the archives there are listed in SHA256SUMS)" }
    } else {
        if ($sums.Count -eq 0) { Fail "SHA256SUMS at $Source lists no archive for $Target, so nothing was installed" }
        if ($sums.Count -gt 1) { Fail "SHA256SUMS at $Source lists several versions for $Target. Fix: name one: -Version VERSION" }
        $entry = $sums[0]
    }
    $zip = Join-Path $ReleaseTmp $entry.Name
    Get-ReleaseFile $entry.Name $zip
    # -ne on strings ignores case: Get-FileHash prints upper case hex.
    if ((Get-FileHash -Algorithm SHA256 $zip).Hash -ne $entry.Hash) {
        Fail "$($entry.Name) does not match its SHA256SUMS entry (a corrupted or altered download), so nothing was installed. Fix: download again; if it persists, report it"
    }
    $unpacked = Join-Path $ReleaseTmp 'unpacked'
    try { Expand-Archive -Path $zip -DestinationPath $unpacked }
    catch { Fail "cannot unpack $($entry.Name) ($($_.Exception.Message -replace '\s+', ' '))" }
    $stem = [IO.Path]::GetFileNameWithoutExtension($entry.Name)
    $Binary = Join-Path $unpacked "$stem\git-credential-entra.exe"
    if (-not (Test-Path -PathType Leaf $Binary)) { $Binary = Join-Path $unpacked 'git-credential-entra.exe' }
    Write-Host "install.ps1: checked $($entry.Name) against SHA256SUMS from $Source"
}

if (-not $Binary) {
    Write-Host 'install.ps1: building in release mode (a few minutes the first time)'
    Push-Location $Root
    try { cargo build --release --locked; if ($LASTEXITCODE -ne 0) { throw 'the build failed (see above)' } }
    finally { Pop-Location }
    $Binary = Join-Path $Root 'target\release\git-credential-entra.exe'
}
if (-not (Test-Path -PathType Leaf $Binary)) { throw "no executable at $Binary" }
New-Item -ItemType Directory -Force -Path $BinDir | Out-Null
# Copy then rename, as install.sh: a running git never sees a half-written helper.
$Tmp = "$Exe.tmp.$PID"
Copy-Item -Force $Binary $Tmp
Move-Item -Force $Tmp $Exe
if ($ReleaseTmp) { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $ReleaseTmp }
Write-Host "install.ps1: installed $Exe ($(& $Exe --version))"

if (-not $NoConfigure) {
    & $Exe configure
    if ($LASTEXITCODE -ne 0) { throw "configure failed; fix the cause above and run: $Exe configure" }
}
# On PATH now (this shell) or for new shells (the user's Path), as install.sh checks PATH.
$userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
$onPath = (($env:Path -split ';') + ($userPath -split ';')) | Where-Object { $_.TrimEnd('\') -eq $BinDir.TrimEnd('\') }
if (-not $onPath) {
    Write-Host "install.ps1: $BinDir is not on your PATH, so commands like 'git-credential-entra configure' are not found. Fix (then open a new shell):"
    Write-Host "    [Environment]::SetEnvironmentVariable('Path', `"$BinDir;`" + [Environment]::GetEnvironmentVariable('Path','User'), 'User')"
}
