//! Windows: whether a file's access control list lets everyone, every local
//! user or every signed-in account read or write it: the counterpart of the
//! unix mode check on files holding a secret or a private key.
//!
//! Files under the user's profile inherit an ACL that grants only the user,
//! SYSTEM and Administrators; a file elsewhere (say `C:\secrets`) may inherit
//! `BUILTIN\Users` read access from the drive's root, which this refuses.

use std::os::windows::ffi::OsStrExt as _;
use std::path::Path;

use windows_sys::Win32::Foundation::{GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, LocalFree};
use windows_sys::Win32::Security::Authorization::{GetNamedSecurityInfoW, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, CreateWellKnownSid, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    PSECURITY_DESCRIPTOR, SECURITY_MAX_SID_SIZE, WELL_KNOWN_SID_TYPE, WinAuthenticatedUserSid,
    WinBuiltinUsersSid, WinWorldSid,
};

/// `ACCESS_ALLOWED_ACE_TYPE` (winnt.h).
const ACCESS_ALLOWED: u8 = 0;
/// Reading or changing the contents: FILE_READ_DATA, FILE_WRITE_DATA,
/// FILE_APPEND_DATA and the generic rights that include them.
const READ_OR_WRITE: u32 = 0x1 | 0x2 | 0x4 | GENERIC_READ | GENERIC_WRITE | GENERIC_ALL;

/// The broad groups no private file may grant access to, with their names.
const BROAD: [(WELL_KNOWN_SID_TYPE, &str); 3] = [
    (WinWorldSid, "Everyone"),
    (WinBuiltinUsersSid, "BUILTIN\\Users"),
    (WinAuthenticatedUserSid, "Authenticated Users"),
];

/// The broad group `path`'s ACL lets read or write it, if any; an error when
/// the ACL cannot be read.
pub fn shared_with(path: &Path) -> Result<Option<&'static str>, String> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated; the out-pointers are valid; the
    // descriptor is freed below and `dacl` points into it.
    let status = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if status != 0 {
        return Err(format!(
            "cannot read its access control list: {}",
            std::io::Error::from_raw_os_error(status as i32)
        ));
    }
    let found = if dacl.is_null() {
        // No DACL at all: everyone has full access.
        Some("Everyone")
    } else {
        // SAFETY: `dacl` is a valid ACL inside `sd`, alive until LocalFree.
        unsafe { broad_grant(dacl) }
    };
    // SAFETY: `sd` was allocated by GetNamedSecurityInfoW for the caller to free.
    unsafe { LocalFree(sd) };
    Ok(found)
}

/// The first broad group an allow entry of `dacl` gives read or write access.
///
/// # Safety
/// `dacl` must point to a valid ACL.
unsafe fn broad_grant(dacl: *mut ACL) -> Option<&'static str> {
    let mut sids = Vec::new();
    for (kind, name) in BROAD {
        let mut sid = vec![0u8; SECURITY_MAX_SID_SIZE as usize];
        let mut size = SECURITY_MAX_SID_SIZE;
        // SAFETY: `sid` has room for any SID; `size` says how much.
        if unsafe {
            CreateWellKnownSid(
                kind,
                std::ptr::null_mut(),
                sid.as_mut_ptr().cast(),
                &mut size,
            )
        } != 0
        {
            sids.push((sid, name));
        }
    }
    // SAFETY: the caller passes a valid ACL.
    let count = unsafe { (*dacl).AceCount };
    for i in 0..u32::from(count) {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `i` is below the ACL's count; GetAce points `ace` into it.
        if unsafe { GetAce(dacl, i, &mut ace) } == 0 || ace.is_null() {
            continue;
        }
        let allowed = ace.cast::<ACCESS_ALLOWED_ACE>();
        // SAFETY: every ACE starts with an ACE_HEADER; an allow entry is an
        // ACCESS_ALLOWED_ACE whose SID starts at SidStart.
        unsafe {
            if (*allowed).Header.AceType != ACCESS_ALLOWED || (*allowed).Mask & READ_OR_WRITE == 0 {
                continue;
            }
            let sid = std::ptr::addr_of_mut!((*allowed).SidStart).cast::<core::ffi::c_void>();
            for (broad, name) in &mut sids {
                if EqualSid(sid, broad.as_mut_ptr().cast()) != 0 {
                    return Some(name);
                }
            }
        }
    }
    None
}

// That a file granting Everyone read access is refused is tested from the
// host (tests/it/windows.rs): Wine derives a file's ACL from its unix mode.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error_not_a_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = shared_with(&dir.path().join("missing")).expect_err("no file");
        assert!(e.contains("access control list"), "{e}");
    }
}
