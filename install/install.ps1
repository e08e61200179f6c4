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

.EXAMPLE
.\install\install.ps1
.\install\install.ps1 -Binary target\release\git-credential-entra.exe
.\install\install.ps1 -Uninstall
#>
param(
    [string]$Prefix = (Join-Path $env:LOCALAPPDATA 'Programs\git-credential-entra'),
    [string]$Binary = '',
    [switch]$NoConfigure,
    [switch]$Uninstall,
    [switch]$Help
)
$ErrorActionPreference = 'Stop'

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
if (-not $Binary) {
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
