//! Slugs (semantics.md §15): slugify, free-candidate search, id-vs-slug lookup.

use std::borrow::Cow;

use rocket_error::Result;
use rocket_meta::{Entity, PkKind};
use rocket_store::sql::SlugsTaken;
use rocket_store::{quote_ident, Tx, Value};
use unicode_normalization::UnicodeNormalization;

/// `"Crème brûlée: 2 ways!"` → `creme-brulee-2-ways`; empty input yields a
/// short random slug so a record never gets an empty one.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-').to_string();
    if trimmed.is_empty() {
        uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
    } else {
        trimmed
    }
}

/// Whether a URL id has the shape of the entity's primary key (else it is
/// tried as a slug first).
pub fn looks_like_pk(entity: &Entity, id: &str) -> bool {
    match entity.pk_kind {
        PkKind::Uuid => {
            id.len() == 36 && uuid::Uuid::parse_str(id).is_ok() && !id.chars().any(|c| c.is_ascii_uppercase())
        }
        PkKind::Int => !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        PkKind::String => false,
    }
}

/// The precompiled `SELECT … WHERE <slug> = $1` (live rows) when a URL id
/// should be tried as a slug first (semantics.md §15), else None.
pub fn lookup_sql<'e>(entity: &'e Entity, id: &str) -> Option<&'e str> {
    let sql = entity.sql_by_slug.as_deref()?;
    (!looks_like_pk(entity, id)).then_some(sql)
}

/// Room kept after a slug's base for a suffix (`-100`, `-<6 random>`).
const SUFFIX_ROOM: usize = 8;

/// `base` cut to fit `max` bytes with room for a suffix (slugs are ASCII), so
/// a long title gives a slug the indexed-length rule accepts.
pub fn fit(base: &str, max: usize) -> String {
    let keep = max.saturating_sub(SUFFIX_ROOM).max(1);
    match base.get(..keep) {
        Some(cut) if cut.len() < base.len() => {
            let cut = cut.trim_end_matches('-');
            if cut.is_empty() { &base[..1] } else { cut }.to_string()
        }
        _ => base.to_string(),
    }
}

/// `base-` and six random base36 characters: 36^6 (~2e9) candidates, so a
/// free one is found at once however many rows share the base.
pub fn random_candidate(base: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let suffix: String = bytes[..6]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{base}-{suffix}")
}

/// The first free slug among `base`, `base-2` … `base-100`, else a random
/// suffix not taken, counting every stored row (soft-deleted ones too: the
/// unique index does). `exclude` is the record's own key on update.
pub async fn free_slug(
    tx: &mut Tx,
    entity: &Entity,
    field: &str,
    base: &str,
    exclude: Option<&Value>,
) -> Result<String> {
    let col = match entity.field(field) {
        Some(f) => Cow::Borrowed(f.quoted.as_str()),
        None => Cow::Owned(quote_ident(field)),
    };
    let st = SlugsTaken {
        table: &entity.sql,
        col: &col,
        base,
        exclude: exclude.cloned(),
    }
    .render();
    let taken: std::collections::HashSet<String> = tx
        .query(&st.sql, &st.params)
        .await?
        .into_iter()
        .map(|r| r.string("s"))
        .collect();
    if !taken.contains(base) {
        return Ok(base.to_string());
    }
    for n in 2..=100 {
        let cand = format!("{base}-{n}");
        if !taken.contains(&cand) {
            return Ok(cand);
        }
    }
    loop {
        let cand = random_candidate(base);
        if !taken.contains(&cand) {
            return Ok(cand);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_examples() {
        assert_eq!(slugify("Crème brûlée: 2 ways!"), "creme-brulee-2-ways");
        assert_eq!(slugify("  Hello   World  "), "hello-world");
        assert_eq!(slugify("ÀÉÎõü"), "aeiou");
        assert_eq!(slugify("a--b__c"), "a-b-c");
        let r = slugify("!!!");
        assert_eq!(r.len(), 8, "fallback slug: {r}");
    }

    #[test]
    fn long_bases_are_cut_to_fit_and_random_suffixes_are_base36() {
        assert_eq!(fit("short", 2048), "short");
        let long = "ab-".repeat(1000);
        let cut = fit(&long, 2048);
        assert!(cut.len() <= 2048 - SUFFIX_ROOM && !cut.ends_with('-'), "{cut}");
        assert_eq!(fit("abc", 1), "a");
        let c = random_candidate("t");
        assert_eq!(c.len(), 8, "{c}");
        assert!(
            c[2..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{c}"
        );
    }
}
