//! The front's read-through, write-through and delete-both rules, with
//! file stores standing in for the kernel keyring and the Secret Service.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::*;
use crate::cache::FileStore;

fn fp() -> Fingerprint {
    Fingerprint::of("sp", "https://login.example", "t", "app", "ado")
}

fn entry(s: &str) -> Secret<String> {
    Secret::new(s.to_string())
}

fn files(dir: &Path) -> Box<dyn TokenStore> {
    Box::new(FileStore::new(dir.to_path_buf()))
}

/// A front over `front_dir`, and a back over `back_dir` whose openings are counted.
fn front(front_dir: &Path, back_dir: &Path) -> (Front, Rc<Cell<usize>>) {
    let opened = Rc::new(Cell::new(0));
    let (count, dir): (_, PathBuf) = (opened.clone(), back_dir.to_path_buf());
    let store = Front::new(
        files(front_dir),
        Box::new(move || {
            count.set(count.get() + 1);
            Ok(files(&dir))
        }),
    );
    (store, opened)
}

fn loaded(store: &dyn TokenStore) -> Option<String> {
    store
        .load(&fp())
        .expect("load")
        .map(|s| s.expose().to_string())
}

#[test]
fn a_front_hit_never_opens_the_back() {
    let (f, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    files(f.path()).save(&fp(), &entry("front")).expect("seed");
    files(b.path()).save(&fp(), &entry("back")).expect("seed");
    let (store, opened) = front(f.path(), b.path());
    assert_eq!(loaded(&store).as_deref(), Some("front"));
    assert_eq!(opened.get(), 0);
    assert_eq!(store.name(), "secret-service+keyutils");
}

#[test]
fn a_front_miss_reads_the_back_once_and_fills_the_front() {
    let (f, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    files(b.path()).save(&fp(), &entry("back")).expect("seed");
    let (store, opened) = front(f.path(), b.path());
    assert_eq!(loaded(&store).as_deref(), Some("back"));
    assert_eq!(loaded(&*files(f.path())).as_deref(), Some("back"));
    assert_eq!(loaded(&store).as_deref(), Some("back"));
    assert_eq!(opened.get(), 1);
}

#[test]
fn a_miss_everywhere_is_a_miss() {
    let (f, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (store, _) = front(f.path(), b.path());
    assert_eq!(loaded(&store), None);
    assert_eq!(loaded(&*files(f.path())), None);
}

#[test]
fn saves_write_both_and_deletes_delete_both() {
    let (f, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (store, _) = front(f.path(), b.path());
    store.save(&fp(), &entry("new")).expect("save");
    assert_eq!(loaded(&*files(f.path())).as_deref(), Some("new"));
    assert_eq!(loaded(&*files(b.path())).as_deref(), Some("new"));
    store.delete(&fp()).expect("delete");
    assert_eq!(loaded(&*files(f.path())), None);
    assert_eq!(loaded(&*files(b.path())), None);
    assert_eq!(loaded(&store), None);
}

/// A store whose every call fails, like a kernel keyring over its quota.
struct Broken;

impl TokenStore for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn load(&self, _: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        Err(StoreError("quota".into()))
    }
    fn save(&self, _: &Fingerprint, _: &Secret<String>) -> Result<(), StoreError> {
        Err(StoreError("quota".into()))
    }
    fn delete(&self, _: &Fingerprint) -> Result<(), StoreError> {
        Err(StoreError("quota".into()))
    }
}

#[test]
fn a_failing_front_still_serves_and_writes_the_back() {
    let b = tempfile::tempdir().expect("dir");
    let dir = b.path().to_path_buf();
    let store = Front::new(Box::new(Broken), Box::new(move || Ok(files(&dir))));
    let saved = store.save(&fp(), &entry("new"));
    assert!(
        saved.is_err(),
        "the front's failure is reported for the trace"
    );
    assert_eq!(loaded(&*files(b.path())).as_deref(), Some("new"));
    assert_eq!(loaded(&store).as_deref(), Some("new"));
}

#[test]
fn an_unusable_back_leaves_the_front_alone() {
    let f = tempfile::tempdir().expect("dir");
    let opened = Rc::new(Cell::new(0));
    let count = opened.clone();
    let store = Front::new(
        files(f.path()),
        Box::new(move || {
            count.set(count.get() + 1);
            Err(StoreError("no daemon answers".into()))
        }),
    );
    let miss = store
        .load(&fp())
        .expect_err("the unusable keyring is traced");
    assert!(miss.0.contains("no daemon answers"), "{miss}");
    assert_eq!(store.name(), "keyutils");
    store
        .save(&fp(), &entry("kept"))
        .expect("save in the front");
    assert_eq!(loaded(&store).as_deref(), Some("kept"));
    store.delete(&fp()).expect("delete from the front");
    assert_eq!(loaded(&*files(f.path())), None);
    assert_eq!(opened.get(), 1, "opened at most once");
}
