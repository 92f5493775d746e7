//! Embeds the system-table migrations: every `migrations/<dialect>/<schema>/
//! V<n>__<name>.sql` becomes an entry of a static table, so adding a
//! migration is adding its file per dialect. Checked here, at build time:
//! file names, versions 1..=n without gaps, and the same versions and names
//! for both dialects.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const DIALECTS: [&str; 2] = ["pg", "sqlite"];
const SCHEMAS: [&str; 2] = ["management", "app"];

struct File {
    version: u32,
    name: String,
    path: PathBuf,
}

fn parse_name(file: &str) -> Option<(u32, String)> {
    let rest = file.strip_prefix('V')?.strip_suffix(".sql")?;
    let (version, name) = rest.split_once("__")?;
    let version = version.parse().ok().filter(|v| *v > 0)?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then(|| (version, name.to_string()))
}

fn scan(dir: &Path) -> Vec<File> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
        let Some((version, name)) = parse_name(file) else {
            panic!(
                "{}: migration files are named V<n>__<snake_case_name>.sql",
                path.display()
            );
        };
        files.push(File { version, name, path });
    }
    files.sort_by_key(|f| f.version);
    for (i, f) in files.iter().enumerate() {
        assert_eq!(
            f.version as usize,
            i + 1,
            "{}: versions must run 1, 2, 3… without gaps or duplicates",
            f.path.display()
        );
    }
    files
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("migrations");
    println!("cargo:rerun-if-changed=migrations");
    let mut out = String::new();
    for schema in SCHEMAS {
        let sets: Vec<Vec<File>> = DIALECTS
            .iter()
            .map(|d| scan(&root.join(d).join(schema)))
            .collect();
        let names = |set: &[File]| set.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&sets[0]),
            names(&sets[1]),
            "migrations/*/{schema}: every dialect needs the same V<n>__<name>.sql files"
        );
        for (dialect, set) in DIALECTS.iter().zip(&sets) {
            let konst = format!("{}_{}", dialect, schema).to_uppercase();
            writeln!(out, "pub(super) static {konst}: &[Migration] = &[").unwrap();
            for f in set {
                writeln!(
                    out,
                    "    Migration {{ version: {}, name: {:?}, sql: include_str!({:?}) }},",
                    f.version,
                    f.name,
                    f.path.display().to_string()
                )
                .unwrap();
            }
            writeln!(out, "];").unwrap();
        }
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("migrations.rs");
    std::fs::write(dest, out).expect("write OUT_DIR/migrations.rs");
}
