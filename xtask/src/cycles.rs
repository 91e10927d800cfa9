//! Keeping the crates' modules free of cycles. A module here is a top-level module of a crate
//! (`src/state.rs`, or `src/commands/` with everything under it); module A uses B when A's code
//! (outside its `#[cfg(test)] mod tests`) names `crate::B`. Two modules that use each other,
//! directly or through others, can only be understood, tested and moved together: the check in
//! this module's tests fails on any such group but the ones listed in `KNOWN`, and on a change
//! to those. (Only its tests use it: the check runs with `cargo xtask test`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Groups of modules that still use each other, with why they are left so. Emptying one is
/// welcome; the test then asks for its line here to go.
const KNOWN: &[(&str, &[&str])] = &[];

/// Every crate of the workspace whose modules are checked, by the folder holding its `src/`.
const CRATES: &[&str] = &[
    "crates/api",
    "crates/audio",
    "crates/cli",
    "crates/client",
    "crates/server",
    "crates/visuals",
    "src-tauri",
    "tests",
    "xtask",
];

/// The top-level module a file under `src` belongs to (`None` for the crate's root files).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// The code of a file without its test modules: each `#[cfg(test)] mod NAME { … }` at the
/// start of a line is cut out, braces counted.
fn without_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]\n") {
        let after = &rest[at + "#[cfg(test)]\n".len()..];
        let item = after.trim_start_matches("pub ").trim_start_matches("pub(crate) ");
        let Some(open) = item.strip_prefix("mod ").and_then(|m| m.find('{').filter(|b| !m[..*b].contains(';'))) else {
            out.push_str(&rest[..at + "#[cfg(test)]\n".len()]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..at]);
        let body = &item["mod ".len() + open..];
        let mut depth = 0usize;
        let mut end = body.len();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// The code without its comment lines (doc comments too): a doc link to a module above this one
/// (`[draw()](crate::draw())` in the plan's docs) is a reader's pointer, not a use.
fn without_comments(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn identifier_at(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The first names of the items of a `{…}` group (`{a::{X, Y}, b}` gives `a` and `b`), and the
/// text after the group.
fn group_heads(group: &str) -> (Vec<&str>, &str) {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    // At depth 0, between a `,` (or the `{`) and the next item's first name.
    let mut expecting = true;
    for (i, c) in group.char_indices() {
        if expecting && depth == 0 && !c.is_whitespace() {
            let name = identifier_at(&group[i..]);
            if !name.is_empty() {
                heads.push(name);
            }
            expecting = false;
        }
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return (heads, &group[i + 1..]),
            '}' => depth -= 1,
            ',' if depth == 0 => expecting = true,
            _ => {}
        }
    }
    (heads, "")
}

/// The names `text` reaches through `prefix` (`crate::`, or `super::` in a top-level file):
/// `crate::a::X` gives `a`, `crate::{a::{X, Y}, b}` gives `a` and `b`.
fn paths_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        // `some_crate::` is another crate's path, not `crate::`.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let (heads, after) = group_heads(group);
            found.extend(heads.into_iter().map(str::to_owned));
            rest = after;
        } else {
            let name = identifier_at(rest);
            if !name.is_empty() {
                found.insert(name.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
fn crate_paths(text: &str) -> BTreeSet<String> {
    paths_after(text, "crate::")
}

/// What the crate's root re-exports, by the name it is used under: `pub use a::{X, b::Y};` in
/// `lib.rs` makes `crate::X` and `crate::Y` uses of `a`.
fn root_exports(root: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    for line in root.lines() {
        let Some(path) = line.trim().strip_prefix("pub use ").and_then(|p| p.strip_suffix(';')) else { continue };
        let path = path.strip_prefix("crate::").unwrap_or(path);
        let module = identifier_at(path).to_owned();
        let names = match path.find('{') {
            Some(open) => path[open + 1..].trim_end_matches('}').to_owned(),
            None => path.to_owned(),
        };
        for item in names.split(',') {
            let item = item.trim();
            let name = match item.rsplit_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => item.rsplit("::").next().unwrap_or(item),
            };
            if !name.is_empty() && name != module {
                exports.insert(name.to_owned(), module.clone());
            }
        }
    }
    exports
}

/// Who uses whom among the top-level modules, from `(path, text)` of every file under `src`.
fn uses(src: &Path, files: &[(std::path::PathBuf, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, _) in files {
        if let Some(module) = module_of(src, path) {
            graph.entry(module).or_default();
        }
    }
    let names: BTreeSet<String> = graph.keys().cloned().collect();
    let exports: BTreeMap<String, String> = files
        .iter()
        .filter(|(path, _)| module_of(src, path).is_none())
        .flat_map(|(_, text)| root_exports(text))
        .collect();
    for (path, text) in files {
        let Some(module) = module_of(src, path) else { continue };
        let code = without_comments(&without_tests(text));
        let mut reached = paths_after(&code, "crate::");
        // In a top-level file (`src/a.rs`), `super::` is the crate's root.
        if path.parent() == Some(src) {
            reached.extend(paths_after(&code, "super::"));
        }
        let used: Vec<String> = reached
            .into_iter()
            .map(|n| exports.get(&n).cloned().unwrap_or(n))
            .filter(|n| *n != module && names.contains(n))
            .collect();
        graph.entry(module).or_default().extend(used);
    }
    graph
}

/// The groups of two or more modules that reach each other (strongly connected components,
/// Tarjan's algorithm), each sorted, in a sorted list.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(lw));
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(iw));
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found.sort();
    walk.found
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> std::io::Result<Vec<(std::path::PathBuf, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(sources(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)?;
            out.push((path, text));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::PathBuf;

    fn file(path: &str, text: &str) -> (PathBuf, String) {
        (PathBuf::from("src").join(path), text.to_owned())
    }

    #[test]
    fn paths_through_crate_are_read_and_tests_and_other_crates_are_not() {
        let text = "use crate::{a::X, b};\nuse resonance_client::c;\nfn f() { crate::d::g(); }\n\
                    #[cfg(test)]\nmod tests { use crate::e; }";
        assert_eq!(crate_paths(&without_tests(text)), ["a", "b", "d"].map(String::from).into());
        let nested = "use crate::{a::{X, Y}, b};\n#[cfg(test)]\nmod billing_tests {\n    fn t() { crate::e::f(); }\n}\nuse crate::g;";
        assert_eq!(crate_paths(&without_tests(nested)), ["a", "b", "g"].map(String::from).into());
    }

    #[test]
    fn re_exports_and_super_in_a_top_level_file_count_as_uses_of_their_module() {
        let src = Path::new("src");
        let files = [
            file("lib.rs", "pub mod client;\npub mod uploader;\npub use client::{Client, Other as Alias};\n"),
            file("uploader.rs", "use crate::Client;"),
            file("client.rs", "fn f() { super::uploader::go(); }"),
        ];
        assert_eq!(cycles(&uses(src, &files)), vec![vec!["client".to_owned(), "uploader".to_owned()]]);
    }

    #[test]
    fn a_doc_link_is_not_a_use() {
        let src = Path::new("src");
        let files = [
            file("plan.rs", "//! Drawn by [`crate::draw()`].\n/// See [`crate::draw::Frame`].\npub struct Plan;"),
            file("draw.rs", "use crate::plan::Plan;"),
        ];
        assert!(cycles(&uses(src, &files)).is_empty());
        let coded = [file("plan.rs", "fn f() { crate::draw::go(); }"), file("draw.rs", "use crate::plan::Plan;")];
        assert_eq!(cycles(&uses(src, &coded)), vec![vec!["draw".to_owned(), "plan".to_owned()]]);
    }

    #[test]
    fn a_cycle_through_a_folder_module_is_found_and_a_chain_is_not() {
        let src = Path::new("src");
        let chain = [file("lib.rs", "mod a; mod b;"), file("a.rs", "use crate::b::X;"), file("b.rs", "")];
        assert!(cycles(&uses(src, &chain)).is_empty());
        let cycle = [
            file("state.rs", "use crate::events::E;\nfn f() { crate::commands::uploads::go(); }"),
            file("commands/mod.rs", "pub mod uploads;"),
            file("commands/uploads.rs", "use crate::state::AppState;"),
            file("events.rs", ""),
        ];
        assert_eq!(cycles(&uses(src, &cycle)), vec![vec!["commands".to_owned(), "state".to_owned()]]);
    }

    /// The check itself: no crate of the workspace has a cycle among its modules but `KNOWN`.
    #[test]
    fn no_crate_has_modules_that_use_each_other() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for member in manifest.split("members = [").nth(1).unwrap().split(']').next().unwrap().split(',') {
            let member = member.trim().trim_matches('"');
            assert!(
                member.is_empty() || CRATES.contains(&member),
                "workspace member {member} is not checked: add it to CRATES"
            );
        }
        let mut found = Vec::new();
        for krate in CRATES {
            let src = root.join(krate).join("src");
            let files = sources(&src).unwrap();
            assert!(!files.is_empty(), "{krate} has no sources");
            for group in cycles(&uses(&src, &files)) {
                found.push((krate.to_string(), group));
            }
        }
        let known: Vec<(String, Vec<String>)> = KNOWN
            .iter()
            .map(|(krate, group)| (krate.to_string(), group.iter().map(|m| m.to_string()).collect()))
            .collect();
        assert_eq!(
            found, known,
            "modules that use each other (crate, modules): break the new cycle by moving what both \
             need to the module that owns it, or update KNOWN when a known one is gone"
        );
    }
}
