//! Unit tests of private files and trust checks.

use super::*;

#[test]
fn written_files_are_read_back_and_others_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("p");
    private_dir(&d).expect("private dir");
    write_private(&d, "x", b"hello").expect("write");
    assert_eq!(
        read_private(&d.join("x"), 16).expect("read").as_deref(),
        Some("hello")
    );
    assert!(read_private(&d.join("x"), 2).is_err(), "over the limit");
    assert_eq!(read_private(&d.join("none"), 16).expect("absent"), None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::symlink(d.join("x"), d.join("link")).expect("symlink");
        assert!(
            read_private(&d.join("link"), 16).is_err(),
            "symlinks are not followed"
        );
        fs::set_permissions(d.join("x"), fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(
            read_private(&d.join("x"), 16).is_err(),
            "others could write it"
        );
    }
}

#[cfg(unix)]
#[test]
fn regular_files_are_opened_once_and_links_followed_only_when_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real.pem");
    fs::write(&real, "pem").expect("write");
    let link = dir.path().join("link.pem");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let (file, meta) = open_regular(&link, Links::Follow).expect("followed");
    assert_eq!(meta.len(), 3);
    assert_eq!(read_at_most(file, 3).expect("read"), b"pem");
    let refused = open_regular(&link, Links::Refuse).expect_err("not followed");
    assert!(refused.to_string().contains("symbolic link"), "{refused}");
    let (file, _) = open_regular(&real, Links::Refuse).expect("a plain file");
    assert!(read_at_most(file, 2).is_err(), "over the bound");
    assert!(
        open_regular(dir.path(), Links::Follow).is_err(),
        "a directory"
    );
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("no NUL");
    // SAFETY: a valid NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = open_regular(&fifo, Links::Follow).expect_err("a FIFO, not waited on");
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn appending_creates_a_private_file_and_refuses_links_and_fifos() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("trace.log");
    open_append_private(&log)
        .and_then(|mut f| f.write_all(b"one\n"))
        .expect("created");
    open_append_private(&log)
        .and_then(|mut f| f.write_all(b"two\n"))
        .expect("appended");
    assert_eq!(fs::read_to_string(&log).expect("read"), "one\ntwo\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&log).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let target = dir.path().join("bashrc");
        fs::write(&target, "mine\n").expect("target");
        std::os::unix::fs::symlink(&target, dir.path().join("planted")).expect("symlink");
        assert!(open_append_private(&dir.path().join("planted")).is_err());
        assert_eq!(fs::read_to_string(&target).expect("read"), "mine\n");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("no NUL");
        // SAFETY: a valid NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(
            open_append_private(&fifo).is_err(),
            "no reader: refused at once"
        );
    }
}

#[test]
fn a_private_write_replaces_the_file_whole_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_private(dir.path(), "entry", b"old").expect("first");
    write_private(dir.path(), "entry", b"new").expect("replaced");
    assert_eq!(fs::read(dir.path().join("entry")).expect("read"), b"new");
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["entry"], "no temporary file left");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("entry"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A link planted at the entry is replaced, never written through.
        let target = dir.path().join("bashrc");
        fs::write(&target, "mine").expect("target");
        std::os::unix::fs::symlink(&target, dir.path().join("planted")).expect("symlink");
        write_private(dir.path(), "planted", b"x").expect("replaced the link");
        assert_eq!(fs::read_to_string(&target).expect("read"), "mine");
        assert!(
            fs::symlink_metadata(dir.path().join("planted"))
                .expect("meta")
                .is_file()
        );
    }
    assert!(write_private(&dir.path().join("absent"), "x", b"x").is_err());
}

#[cfg(unix)]
#[test]
fn trust_needs_the_right_kind_our_ownership_and_no_other_writer() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f");
    fs::write(&file, "x").expect("write");
    let chmod = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m));
    let meta = |p: &Path| fs::symlink_metadata(p).expect("meta");
    chmod(&file, 0o644).expect("chmod");
    assert_eq!(distrust(&meta(&file), Kind::File, Writers::OURS), None);
    assert_eq!(distrust(&meta(&file), Kind::Any, Writers::OURS), None);
    assert_eq!(
        distrust(&meta(&file), Kind::Dir, Writers::OURS),
        Some(Distrust::NotA("a directory"))
    );
    chmod(&file, 0o664).expect("chmod");
    let why = distrust(&meta(&file), Kind::File, Writers::OURS).expect("group-writable");
    assert_eq!(why.to_string(), "group or others can write it (mode 664)");
    let sticky = dir.path().join("tmp");
    fs::create_dir(&sticky).expect("mkdir");
    chmod(&sticky, 0o1777).expect("chmod");
    let lenient = Writers {
        root: true,
        sticky_dir: true,
    };
    assert_eq!(distrust(&meta(&sticky), Kind::Dir, lenient), None);
    assert_eq!(
        distrust(&meta(&sticky), Kind::Dir, Writers::OURS),
        Some(Distrust::Writable { mode: 0o777 })
    );
    // Owned by root: trusted only where root may own it.
    let root_owned = Path::new("/");
    let root_uid = fs::metadata(root_owned).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if root_uid.ok() == Some(0) && current_uid() != 0 {
        let why = distrust(&meta(root_owned), Kind::Dir, Writers::OURS).expect("root's");
        assert!(matches!(why, Distrust::Owner { owner: 0, .. }), "{why}");
        assert_eq!(distrust(&meta(root_owned), Kind::Dir, lenient), None);
    }
}
