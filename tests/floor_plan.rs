//! The floor plan (docs/architecture.md) kept true at every commit: imports
//! point down the layers and form no circle, `src/` has few files at its
//! top, and no source file (tests aside) grows past 500 lines.
//!
//! It reads `src/` as text: every `crate::a::b` path and every `super::`
//! path outside `#[cfg(test)] mod tests` is an import of the module it
//! names (the longest prefix that is a module). A room's `mod.rs` may
//! re-export its children; that is not counted as an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the top; a module may import its own layer or lower ones.
/// The most specific prefix decides (`token::flow` is the flow, `token`
/// alone the plain token types).
const LAYERS: &[(&str, u8)] = &[
    ("app", 0),
    ("commands", 0),
    ("token::flow", 1),
    ("token::lock", 1),
    ("token::outage", 1),
    ("token::error", 1),
    ("identity", 2),
    ("context", 3),
    ("config", 3),
    ("entra", 4),
    ("azure_devops", 4),
    ("cache", 4),
    ("keyring", 5),
    ("git", 6),
    ("net", 6),
    ("token", 7),
    ("sys", 7),
];

const MAX_TOP_FILES: usize = 10;
const MAX_LINES: usize = 500;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `identity::user::browser` for `src/identity/user/browser.rs`, `cache`
/// for `src/cache/mod.rs`, `crate` for `lib.rs` and `main.rs`.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        return "crate".into();
    }
    parts.join("::")
}

fn is_test_module(module: &str) -> bool {
    module.rsplit("::").next() == Some("tests")
}

/// The text before a file's `#[cfg(test)] mod tests`.
fn non_test_text(text: &str) -> &str {
    let mut end = text.len();
    for marker in ["#[cfg(test)]\nmod tests", "#[cfg(test)]\npub mod test"] {
        if let Some(i) = text.find(marker) {
            end = end.min(i);
        }
    }
    &text[..end]
}

/// Each path after `prefix` (`crate::` or a run of `super::`): its segments.
fn paths_after<'t>(text: &'t str, prefix: &str) -> Vec<(usize, Vec<&'t str>)> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find(prefix) {
        let before = text[..offset + i].chars().next_back();
        let start = i + prefix.len();
        let after = &rest[start..];
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            let mut supers = 0;
            let mut tail = after;
            while let Some(t) = tail.strip_prefix("super::") {
                supers += 1;
                tail = t;
            }
            let len = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let segments: Vec<&str> = tail[..len]
                .split("::")
                .filter(|s| !s.is_empty() && s.starts_with(|c: char| c.is_ascii_lowercase()))
                .collect();
            found.push((supers, segments));
        }
        offset += start;
        rest = &text[offset..];
    }
    found
}

struct Tree {
    modules: BTreeSet<String>,
    /// Module → the modules it imports.
    imports: BTreeMap<String, BTreeSet<String>>,
    lines: Vec<(PathBuf, usize)>,
    top_files: usize,
}

fn read_tree() -> Tree {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let longest = |parts: &[&str]| -> Option<String> {
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut lines = Vec::new();
    for file in &files {
        let module = module_of(file);
        let text = std::fs::read_to_string(file).expect("read a source file");
        if !is_test_module(&module) {
            lines.push((file.clone(), text.lines().count()));
        }
        if module == "crate" || is_test_module(&module) {
            continue;
        }
        let body = non_test_text(&text);
        let own: Vec<&str> = module.split("::").collect();
        let mut targets = BTreeSet::new();
        for (_, segments) in paths_after(body, "crate::") {
            targets.extend(longest(&segments));
        }
        for (supers, segments) in paths_after(body, "super::") {
            let supers = supers + 1;
            if supers > own.len() {
                continue;
            }
            let mut parts: Vec<&str> = own[..own.len() - supers].to_vec();
            let parent = parts.join("::");
            parts.extend(segments);
            match longest(&parts) {
                Some(m) => targets.insert(m),
                None if !parent.is_empty() => targets.insert(parent),
                None => false,
            };
        }
        targets.remove(&module);
        imports.insert(module, targets);
    }
    let top_files = std::fs::read_dir(src())
        .expect("read src")
        .flatten()
        .filter(|e| e.path().is_file())
        .count();
    Tree {
        modules,
        imports,
        lines,
        top_files,
    }
}

fn layer(module: &str) -> Option<u8> {
    let parts: Vec<&str> = module.split("::").collect();
    (1..=parts.len()).rev().find_map(|n| {
        let prefix = parts[..n].join("::");
        LAYERS.iter().find(|(p, _)| *p == prefix).map(|(_, l)| *l)
    })
}

#[test]
fn every_module_has_a_layer() {
    let tree = read_tree();
    let missing: Vec<&String> = tree
        .modules
        .iter()
        .filter(|m| *m != "crate" && !is_test_module(m) && layer(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules in no layer (add their room to LAYERS and to docs/architecture.md): {missing:?}"
    );
}

#[test]
fn imports_point_down() {
    let tree = read_tree();
    let mut upward = Vec::new();
    for (from, targets) in &tree.imports {
        for to in targets {
            if let (Some(a), Some(b)) = (layer(from), layer(to))
                && b < a
            {
                upward.push(format!("{from} (layer {a}) imports {to} (layer {b})"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a lower layer to a higher one:\n{}",
        upward.join("\n")
    );
}

#[test]
fn imports_form_no_circle() {
    let tree = read_tree();
    // Tarjan's strongly connected components over the import graph.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        circles: Vec<Vec<&'g str>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut circle = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                circle.push(w);
                if w == v {
                    break;
                }
            }
            if circle.len() > 1 {
                s.circles.push(circle);
            }
        }
    }
    let mut state = State {
        graph: &tree.imports,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        circles: Vec::new(),
    };
    for module in tree.imports.keys() {
        if !state.index.contains_key(module.as_str()) {
            visit(&mut state, module);
        }
    }
    assert!(
        state.circles.is_empty(),
        "import circles: {:?}",
        state.circles
    );
}

#[test]
fn few_files_at_the_top_and_none_too_long() {
    let tree = read_tree();
    assert!(
        tree.top_files <= MAX_TOP_FILES,
        "{} files at the top of src/",
        tree.top_files
    );
    let long: Vec<String> = tree
        .lines
        .iter()
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines: {long:?}"
    );
}

/// The check itself finds what it must: an upward import and a circle.
#[test]
fn the_reader_sees_crate_and_super_paths() {
    let text = "use crate::identity::AcquireCx;\nfn f() { super::super::x::y(); crate::sys::text::inert(a) }\nlet s = \"notcrate::z\";";
    let crate_paths: Vec<Vec<&str>> = paths_after(text, "crate::")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        crate_paths,
        vec![vec!["identity"], vec!["sys", "text", "inert"]]
    );
    let supers = paths_after(text, "super::");
    assert_eq!(supers, vec![(1, vec!["x", "y"])]);
    assert_eq!(layer("token::flow"), Some(1));
    assert_eq!(layer("token::claims"), Some(7));
    assert_eq!(layer("identity::user::browser"), Some(2));
    assert_eq!(
        non_test_text("a\n#[cfg(test)]\nmod tests {\n crate::app::x }"),
        "a\n"
    );
}
