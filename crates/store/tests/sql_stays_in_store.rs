//! SQL in one place per dialect (issue 10): outside `crates/store`, no source
//! file names `Dialect::` or assembles SQL text at run time (`format!`,
//! `write!`, `concat!`, `push_str`, `join`, `+` on a literal that reads as SQL,
//! or a `format!` over `quote_ident`). Fixed statements are fine. Scans every
//! `crates/*/src/**/*.rs` except `crates/store`, skipping `tests.rs` files
//! and `#[cfg(test)]` items; comments and string contents never count as code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Files that still violate while their code moves into the store, with the
/// reason. Remove a line when its file is clean: the test fails on an entry
/// that no longer violates, so this list stays exact.
const ALLOWLIST: &[(&str, &str)] = &[
    ("crates/testkit/src/lib.rs", "DROP DATABASE of test runs"),
    (
        "crates/queue/src/redis_streams/scripts.rs",
        "Redis Lua scripts sharing a helper prefix; Lua, not SQL (its LIMIT/COUNT words trip the scan)",
    ),
];

const ASSEMBLY_MACROS: &[&str] = &["format", "format_args", "write", "writeln", "concat"];
const ASSEMBLY_METHODS: &[&str] = &["push_str", "insert_str", "join", "concat"];

fn sql_words() -> Regex {
    Regex::new(concat!(
        r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|WHERE|FROM|JOIN",
        r"|ORDER BY|GROUP BY|HAVING|LIMIT|OFFSET|VALUES|RETURNING|UNION|AND|OR|NOT|NULL",
        r"|IS|IN|LIKE|ILIKE|EXISTS|BETWEEN|ASC|DESC|COALESCE|CAST|DISTINCT|LISTEN",
        r"|NOTIFY|INDEX|TABLE|SET|INTO|ON CONFLICT)\b",
        // Placeholders: `$1`, `${}`, `?1`.
        r"|\$\d|\$\{|\?\d"
    ))
    .expect("valid regex")
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    Str(String),
}

/// Tokens with their 1-based line. Just enough Rust: comments (nested),
/// strings (escaped, raw, byte), char literals versus lifetimes.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if ch == '"' || (matches!(ch, 'r' | 'b') && starts_string(&c, i)) {
            let start_line = line;
            let (text, next) = string(&c, i);
            line += text.matches('\n').count();
            out.push((Tok::Str(text), start_line));
            i = next;
        } else if ch == '\'' {
            // 'x' or '\n' is a char literal; 'a without a closing quote is a lifetime.
            if at(i + 1) == '\\' {
                i += 3; // quote, backslash, escaped char
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                out.push((Tok::Punct('\''), line));
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// `r"`, `r#"`, `b"`, `br"`, `br#"` at `i` (not an identifier like `rows`).
fn starts_string(c: &[char], i: usize) -> bool {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return false;
    }
    let mut k = i + 1;
    if c[i] == 'b' && c.get(k) == Some(&'r') {
        k += 1;
    }
    if c[i] == 'b' && c.get(k) == Some(&'"') {
        return true;
    }
    if c[i] == 'r' || c.get(i + 1) == Some(&'r') {
        while c.get(k) == Some(&'#') {
            k += 1;
        }
        return c.get(k) == Some(&'"');
    }
    false
}

/// The contents of the string literal at `i` and the index after it.
fn string(c: &[char], mut i: usize) -> (String, usize) {
    while c[i] != '"' && c[i] != '#' {
        i += 1; // r / b / br prefix
    }
    let mut hashes = 0;
    while c[i] == '#' {
        hashes += 1;
        i += 1;
    }
    let raw = hashes > 0 || (i > 0 && c[i - 1] == 'r');
    i += 1; // opening quote
    let mut text = String::new();
    while i < c.len() {
        if !raw && c[i] == '\\' {
            text.push(c[i]);
            text.extend(c.get(i + 1));
            i += 2;
            continue;
        }
        if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
            return (text, i + 1 + hashes);
        }
        text.push(c[i]);
        i += 1;
    }
    (text, i)
}

/// Drops `#[cfg(test)]` items: the attribute, then up to the item's `;` or
/// its balanced `{ … }`.
fn without_test_items(toks: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let is = |t: &Tok, s: &str| match t {
        Tok::Ident(x) => x == s,
        Tok::Punct(p) => s.len() == 1 && s.starts_with(*p),
        Tok::Str(_) => false,
    };
    let pattern = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let matches = pattern
            .iter()
            .enumerate()
            .all(|(k, p)| toks.get(i + k).is_some_and(|(t, _)| is(t, p)));
        if !matches {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        i += pattern.len();
        while i < toks.len() && !is(&toks[i].0, ";") && !is(&toks[i].0, "{") {
            i += 1;
        }
        if i < toks.len() && is(&toks[i].0, "{") {
            let mut depth = 0;
            while i < toks.len() {
                if is(&toks[i].0, "{") {
                    depth += 1;
                } else if is(&toks[i].0, "}") {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                i += 1;
            }
        }
        i += 1;
    }
    out
}

/// Index after the delimiter group opening at `open`.
fn group_end(toks: &[(Tok, usize)], open: usize) -> usize {
    let (o, cl) = match toks[open].0 {
        Tok::Punct('(') => ('(', ')'),
        Tok::Punct('[') => ('[', ']'),
        _ => ('{', '}'),
    };
    let mut depth = 0;
    for (k, (t, _)) in toks.iter().enumerate().skip(open) {
        if *t == Tok::Punct(o) {
            depth += 1;
        } else if *t == Tok::Punct(cl) {
            depth -= 1;
            if depth == 0 {
                return k + 1;
            }
        }
    }
    toks.len()
}

fn opens_group(t: Option<&(Tok, usize)>) -> bool {
    matches!(t, Some((Tok::Punct('(' | '[' | '{'), _)))
}

/// `(line, what)` for every violation in one file's source.
fn violations(src: &str, sql: &Regex) -> Vec<(usize, String)> {
    let toks = without_test_items(lex(src));
    let mut found = Vec::new();
    let ident = |k: usize| match toks.get(k) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let punct = |k: usize, p: char| matches!(toks.get(k), Some((Tok::Punct(q), _)) if *q == p);
    let sql_in = |from: usize, to: usize, found: &mut Vec<(usize, String)>, what: &str| {
        let mut hit = false;
        for (t, line) in &toks[from..to] {
            if let Tok::Str(s) = t {
                if sql.is_match(s) {
                    found.push((*line, format!("{what} assembles SQL: \"{}\"", short(s))));
                    hit = true;
                }
            }
        }
        hit
    };
    for k in 0..toks.len() {
        let line = toks[k].1;
        if ident(k) == Some("Dialect") && punct(k + 1, ':') && punct(k + 2, ':') {
            found.push((line, "branches on Dialect::".to_string()));
        }
        let Some(name) = ident(k) else {
            if punct(k, '+') {
                let at = if punct(k + 1, '=') { k + 2 } else { k + 1 };
                if matches!(toks.get(at), Some((Tok::Str(_), _))) {
                    sql_in(at, at + 1, &mut found, "`+`");
                }
            }
            continue;
        };
        if ASSEMBLY_MACROS.contains(&name) && punct(k + 1, '!') && opens_group(toks.get(k + 2)) {
            let end = group_end(&toks, k + 2);
            let what = format!("{name}!");
            let quoted = toks[k + 2..end]
                .iter()
                .any(|(t, _)| *t == Tok::Ident("quote_ident".into()));
            if !sql_in(k + 2, end, &mut found, &what) && quoted {
                found.push((line, format!("{what} over quote_ident assembles SQL")));
            }
        } else if ASSEMBLY_METHODS.contains(&name)
            && k > 0
            && punct(k - 1, '.')
            && opens_group(toks.get(k + 1))
        {
            let end = group_end(&toks, k + 1);
            sql_in(k + 1, end, &mut found, &format!(".{name}()"));
        }
    }
    found.sort();
    found.dedup();
    found
}

fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "tests" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

#[test]
fn sql_stays_in_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("workspace root");
    let mut files = Vec::new();
    let crates = std::fs::read_dir(root.join("crates")).expect("crates/");
    for krate in crates.flatten() {
        if krate.file_name() != "store" {
            rust_files(&krate.path().join("src"), &mut files);
        }
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    let sql = sql_words();
    let mut by_file: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for path in &files {
        let src = std::fs::read_to_string(path).expect("readable source");
        let found = violations(&src, &sql);
        if !found.is_empty() {
            let rel = path.strip_prefix(&root).expect("under root");
            by_file.insert(rel.to_string_lossy().replace('\\', "/"), found);
        }
    }
    let allowed = |f: &str| ALLOWLIST.iter().any(|(a, _)| *a == f);
    let mut report = Vec::new();
    for (file, found) in by_file.iter().filter(|(f, _)| !allowed(f)) {
        for (line, what) in found {
            report.push(format!("{file}:{line}: {what}"));
        }
    }
    for (file, _) in ALLOWLIST.iter().filter(|(f, _)| !by_file.contains_key(*f)) {
        report.push(format!("{file}: no longer violates; remove it from ALLOWLIST"));
    }
    assert!(
        report.is_empty(),
        "SQL outside crates/store (move it into the store, or make it one fixed statement):\n{}",
        report.join("\n")
    );
}

#[test]
fn detector_flags_assembly_and_dialect_branches() {
    let sql = sql_words();
    let bad = r##"
        fn a(t: &str) -> String { format!("SELECT * FROM {t}") }
        fn b(s: &mut String) { s.push_str(" WHERE x = 1"); }
        fn c(parts: &[String]) -> String { parts.join(" AND ") }
        fn d(n: usize) -> String { format!("active = ${}", n) }
        fn e(d: Dialect) -> bool { d == Dialect::Postgres }
        fn f(a: &str) -> String { format!("{}.{}", quote_ident(a), "x") }
        fn g(s: String) -> String { s + " ORDER BY id" }
        fn h(t: &str) -> String {
            format!(
                r#"INSERT INTO {} (a) VALUES ($1)"#,
                t
            )
        }
    "##;
    let lines: Vec<usize> = violations(bad, &sql).iter().map(|v| v.0).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 11]);
}

#[test]
fn detector_ignores_messages_comments_fixed_sql_and_tests() {
    let sql = sql_words();
    let good = r##"
        // format!("SELECT {x}") in a comment, Dialect::Sqlite too
        /* nested /* format!("DROP {t}") */ still a comment */
        const FIXED: &str = "SELECT id FROM _users WHERE id = $1";
        fn a(f: &str) -> String { format!("Unknown filter field: {f}") }
        fn b(f: &str) -> String { format!("{f} must be one of: a, b") }
        fn c(v: &[String]) -> String { v.join(", ") }
        fn d() -> (char, char) { ('"', '\'') }
        fn e<'a>(s: &'a str) -> &'a str { s }
        fn f() -> &'static str { "Dialect::Postgres is only a string here" }
        #[cfg(test)]
        mod tests {
            fn t() -> String { format!("SELECT {}", 1) }
        }
    "##;
    assert_eq!(violations(good, &sql), Vec::<(usize, String)>::new());
}
