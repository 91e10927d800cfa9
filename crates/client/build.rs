//! Embeds the mirror's migrations (`migrations-local/NNNN_name.sql` at the workspace root) in
//! order, and fails the build if their numbers are not 1, 2, 3… without gaps.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../../migrations-local");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(u32, String, PathBuf)> = Vec::new();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let number: u32 = name
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a local migration is named NNNN_what.sql"));
        files.push((number, name, path));
    }
    files.sort();
    let mut out = String::from(
        "/// (version, file name, SQL), in order.\npub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[\n",
    );
    for (i, (number, name, path)) in files.iter().enumerate() {
        assert_eq!(*number as usize, i + 1, "{name}: local migrations are numbered 1, 2, 3… without gaps");
        let path = path.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let _ = writeln!(out, "    ({number}, {name:?}, include_str!({:?})),", path.display().to_string());
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("migrations.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
}
