//! `rocket_engine::query::parse` on malformed and arbitrary query strings:
//! it never panics, errors are only 400 `UNKNOWN_FIELD` / `INVALID_PAYLOAD`,
//! and a successful parse always yields a usable plan (semantics.md §2).

use proptest::prelude::*;
use rocket_error::ErrorCode;
use rocket_meta::{parse_def, Entity, EntityDef};
use rocket_query::{parse, ListQuery, Op, DEFAULT_PER_PAGE, MAX_PER_PAGE};
use rocket_store::Value;

fn entity() -> Entity {
    let def: EntityDef = parse_def(&serde_json::json!({
        "name": "item", "table": "items", "soft_delete": true,
        "primary_key": {"field": "id", "type": "uuid", "generated": true},
        "fields": [
            {"name": "id", "type": "uuid"},
            {"name": "code", "type": "string"},
            {"name": "body", "type": "text"},
            {"name": "qty", "type": "int"},
            {"name": "big", "type": "bigint"},
            {"name": "ratio", "type": "float"},
            {"name": "price", "type": "decimal", "precision": 2},
            {"name": "active", "type": "boolean"},
            {"name": "seen_at", "type": "timestamp"},
            {"name": "born_on", "type": "date"},
            {"name": "extra", "type": "json"},
            {"name": "doc", "type": "file"}]}))
    .expect("definition parses");
    Entity::compile(def).expect("entity compiles")
}

const FIELDS: &[&str] = &[
    "id", "code", "body", "qty", "big", "ratio", "price", "active", "seen_at", "born_on", "extra", "doc",
];
const OPS: &[&str] = &["eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in", "like"];

/// Invariants of any successful parse.
fn check_plan(e: &Entity, q: &ListQuery, raw: &str) {
    assert!(q.page >= 1, "{raw:?}: page {}", q.page);
    assert!(
        (1..=MAX_PER_PAGE).contains(&q.per_page),
        "{raw:?}: per_page {}",
        q.per_page
    );
    for f in &q.filters {
        assert!(f.field < e.fields.len(), "{raw:?}: filter field index");
        if matches!(f.op, Op::In | Op::NotIn) {
            assert!(matches!(f.value, Value::List(_)), "{raw:?}: in-list value");
        }
    }
    for (i, _) in &q.sort {
        assert!(*i < e.fields.len(), "{raw:?}: sort field index");
    }
    for t in &q.includes {
        assert!(!t.is_empty() && t.trim() == t, "{raw:?}: include token {t:?}");
    }
}

/// Parses without panicking; errors must be one of the two 400 codes.
fn parse_checked(e: &Entity, raw: &str) -> Result<ListQuery, ErrorCode> {
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(e, raw)))
        .unwrap_or_else(|_| panic!("parse panicked on {raw:?}"));
    match res {
        Ok(q) => {
            check_plan(e, &q, raw);
            Ok(q)
        }
        Err(err) => {
            assert!(
                matches!(err.code, ErrorCode::UnknownField | ErrorCode::InvalidPayload),
                "{raw:?}: unexpected error code {:?} ({})",
                err.code,
                err.message
            );
            assert_eq!(err.code.status(), 400);
            assert!(!err.message.is_empty(), "{raw:?}: empty message");
            Err(err.code)
        }
    }
}

#[test]
fn malformed_query_strings_never_panic() {
    let e = entity();
    let long_digits = format!("filter[qty]={}", "9".repeat(10_000));
    let long_list = format!("filter[code.in]={}", "a,".repeat(10_000));
    let long_sort = format!("sort={}", "-qty,".repeat(5_000));
    let deep = format!("filter{}qty{}=1", "[".repeat(500), "]".repeat(500));
    let mut cases: Vec<&str> = vec![
        "",
        "&",
        "&&&&",
        "=",
        "==",
        "=&=&=",
        "?",
        "??page=2",
        "filter",
        "filter=",
        "filter[",
        "filter[=1",
        "filter]=1",
        "filter[]",
        "filter[]=",
        "filter[]=1",
        "filter[[qty]]=1",
        "filter[qty",
        "filter[qty=1",
        "filter[qty]]=1",
        "filter[qty.]=1",
        "filter[.eq]=1",
        "filter[.]=1",
        "filter[..]=1",
        "filter[qty..eq]=1",
        "filter[qty.eq.eq]=1",
        "filter[qty.in]=",
        "filter[qty.in]=,,,",
        "filter[qty.in]= , ,",
        "filter[qty.in]=1,,2",
        "filter[qty.not_in]=,",
        "filter[qty.like]=%",
        "filter[qty.like]=%25%25",
        "filter[qty]=%",
        "filter[qty]=%zz",
        "filter[qty]=%ff%fe",
        "filter[qty]=+1",
        "filter[qty]=-0",
        "filter[qty]= 1 ",
        "filter[qty]=1e3",
        "filter[qty]=0x10",
        "filter[qty]=١٢",
        "filter[qty]=-9223372036854775808",
        "filter[qty]=9223372036854775808",
        "filter[big]=-9223372036854775809",
        "filter[price]=NaN",
        "filter[price]=inf",
        "filter[price]=-Infinity",
        "filter[price]=1e400",
        "filter[price]=1.2.3",
        "filter[ratio]=",
        "filter[active]=",
        "filter[active]=yes",
        "filter[active]=tRuE",
        "filter[id]=",
        "filter[id]={00000000-0000-0000-0000-000000000000}",
        "filter[id]=00000000000000000000000000000000",
        "filter[seen_at]=",
        "filter[seen_at]=9999999-99-99T99:99:99Z",
        "filter[seen_at]=2026-02-30T00:00:00Z",
        "filter[seen_at]=2026-01-01T00:00:00+99:00",
        "filter[born_on]=2026-13-01",
        "filter[born_on]=0000-00-00",
        "filter[extra]={}",
        "filter[doc.like]=%",
        "filter[ñ]=é",
        "filter[qty\u{0}]=1",
        "filter%5Bqty%5D=1",
        "filter%5Bqty.gt%5D=abc",
        "filter[qty.gt]=1&filter[qty.gt]=x",
        "filter[qty.gt]=x&filter[qty.gt]=1",
        "filter[deleted_at]=x",
        "page",
        "page=",
        "page=%00",
        "page=-9223372036854775808",
        "page=9223372036854775807",
        "page=99999999999999999999999",
        "page=1e2",
        "page= 3 ",
        "per_page",
        "per_page=0",
        "per_page=-1",
        "per_page=9223372036854775807",
        "per_page=NaN",
        "sort",
        "sort=",
        "sort=,",
        "sort=-",
        "sort=+",
        "sort=--qty",
        "sort=-+qty",
        "sort=-,-",
        "sort= , qty , ",
        "sort=qty desc",
        "sort=deleted_at",
        "include",
        "include=",
        "include=,,",
        "include= , a ,, b ",
        "include=a.b",
        "%",
        "%%%",
        "%E2%82",
        "\u{0}",
        "\u{feff}page=2",
        "filter[qty]=1&&&&sort=-qty&&page=2&per_page=3&include=x",
    ];
    cases.extend([
        long_digits.as_str(),
        long_list.as_str(),
        long_sort.as_str(),
        deep.as_str(),
    ]);
    for raw in cases {
        let _ = parse_checked(&e, raw);
    }
}

#[test]
fn malformed_inputs_give_the_contract_errors() {
    let e = entity();
    use ErrorCode::{InvalidPayload as Bad, UnknownField as Unknown};
    for (raw, want) in [
        ("filter[]=1", Unknown),
        ("filter[nope]=1", Unknown),
        ("filter[.eq]=1", Unknown),
        ("filter[deleted_at]=x", Unknown),
        ("filter[ñ]=é", Unknown),
        ("sort=nope", Unknown),
        ("sort=-", Unknown),
        ("sort=--qty", Unknown),
        ("sort=qty desc", Unknown),
        ("sort=deleted_at", Unknown),
        ("filter[qty.]=1", Bad),
        ("filter[qty..eq]=1", Bad),
        ("filter[qty.eq.eq]=1", Bad),
        ("filter[qty.EQ]=1", Bad),
        ("filter[qty]=", Bad),
        ("filter[qty]=abc", Bad),
        ("filter[qty]=1e3", Bad),
        ("filter[qty]=9223372036854775808", Bad),
        ("filter[qty.in]=1,x", Bad),
        ("filter[price]=1.2.3", Bad),
        ("filter[active]=yes", Bad),
        ("filter[active]=", Bad),
        ("filter[id]=nope", Bad),
        ("filter[seen_at]=2026-02-30T00:00:00Z", Bad),
        ("filter[born_on]=2026-13-01", Bad),
        ("filter%5Bqty.gt%5D=abc", Bad),
    ] {
        assert_eq!(parse_checked(&e, raw).err(), Some(want), "{raw:?}");
    }
    // Well-formed oddities that must parse.
    for raw in [
        "",
        "&&&",
        "filter=1",
        "filter]=1",
        "page=x&per_page=y",
        "sort=,",
        "sort= , qty , ",
        "include=,,",
        "filter[qty.in]=",
        "filter[qty.in]=,,,",
        "filter[qty.like]=%",
        "filter[qty]= 1 ",
        "filter%5Bqty%5D=1",
        "filter[code]=%ff%fe",
        "unknown=1&filter=2",
    ] {
        assert!(parse_checked(&e, raw).is_ok(), "{raw:?}");
    }
    // Pagination falls back to defaults and clamps.
    for (raw, page, per_page) in [
        ("", 1, DEFAULT_PER_PAGE),
        ("page=0&per_page=0", 1, DEFAULT_PER_PAGE),
        ("page=-1&per_page=-1", 1, DEFAULT_PER_PAGE),
        ("page=1e2&per_page=NaN", 1, DEFAULT_PER_PAGE),
        ("page=99999999999999999999999", 1, DEFAULT_PER_PAGE),
        (
            "page=9223372036854775807&per_page=9223372036854775807",
            i64::MAX,
            MAX_PER_PAGE,
        ),
        ("page=3&per_page=101", 3, MAX_PER_PAGE),
        ("page=2&per_page=100", 2, 100),
        ("per_page=1", 1, 1),
    ] {
        let q = parse_checked(&e, raw).expect(raw);
        assert_eq!((q.page, q.per_page), (page, per_page), "{raw:?}");
    }
    // Empty in-lists and include tokens are dropped, not kept as "".
    let q = parse_checked(&e, "filter[qty.in]= , ,&include= , a ,, b ").unwrap();
    assert!(matches!(&q.filters[0].value, Value::List(l) if l.is_empty()));
    assert_eq!(q.includes, ["a", "b"]);
}

const TOKENS: &[&str] = &[
    "filter[",
    "]",
    "[",
    ".",
    "=",
    "&",
    ",",
    "-",
    "+",
    " ",
    "%",
    "%5B",
    "%5D",
    "%zz",
    "%00",
    "qty",
    "big",
    "price",
    "active",
    "seen_at",
    "born_on",
    "id",
    "code",
    "nope",
    "eq",
    "in",
    "not_in",
    "like",
    "gte",
    "bogus_op",
    "page",
    "per_page",
    "sort",
    "include",
    "1",
    "-1",
    "0",
    "abc",
    "true",
    "2026-01-01T00:00:00Z",
    "00000000-0000-4000-8000-000000000000",
    "99999999999999999999",
    "é",
];

fn token() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(TOKENS)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("ROCKET_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn arbitrary_text_never_panics(raw in ".{0,300}") {
        let e = entity();
        let _ = parse_checked(&e, &raw);
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let e = entity();
        let raw = String::from_utf8_lossy(&bytes);
        let _ = parse_checked(&e, &raw);
    }

    #[test]
    fn token_soup_never_panics(parts in proptest::collection::vec(token(), 0..60)) {
        let e = entity();
        let _ = parse_checked(&e, &parts.concat());
    }

    /// One filter: an unknown field is UNKNOWN_FIELD, else an unknown
    /// operator is INVALID_PAYLOAD, else it parses or the value is refused
    /// with INVALID_PAYLOAD.
    #[test]
    fn single_filter_outcome(
        field in prop_oneof![proptest::sample::select(FIELDS).prop_map(String::from), "[a-z_]{0,8}"],
        op in prop_oneof![
            Just(None),
            proptest::sample::select(OPS).prop_map(|o| Some(o.to_string())),
            "[a-z_]{0,6}".prop_map(Some),
        ],
        value in ".{0,40}",
    ) {
        let e = entity();
        let key = match &op {
            Some(o) => format!("{field}.{o}"),
            None => field.clone(),
        };
        let raw = format!(
            "filter[{}]={}",
            key,
            form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        );
        let res = parse_checked(&e, &raw);
        if !FIELDS.contains(&field.as_str()) {
            prop_assert_eq!(res.err(), Some(ErrorCode::UnknownField), "{}", raw);
        } else if op.as_deref().is_some_and(|o| !OPS.contains(&o)) {
            prop_assert_eq!(res.err(), Some(ErrorCode::InvalidPayload), "{}", raw);
        } else {
            match res {
                Ok(q) => prop_assert_eq!(q.filters.len(), 1),
                Err(code) => prop_assert_eq!(code, ErrorCode::InvalidPayload, "{}", raw),
            }
        }
    }

    /// `page`/`per_page`: any value parses; integers ≥ 1 are used (per_page
    /// clamped to 100), everything else falls back to the defaults.
    #[test]
    fn pagination_values(page in prop_oneof![any::<i64>().prop_map(|n| n.to_string()), ".{0,12}"],
                         per_page in prop_oneof![any::<i64>().prop_map(|n| n.to_string()), ".{0,12}"]) {
        let e = entity();
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let raw = format!("page={}&per_page={}", enc(&page), enc(&per_page));
        let q = parse_checked(&e, &raw).expect("pagination never fails");
        let want = |s: &str, default: i64| match s.trim().parse::<i64>() {
            Ok(n) if n >= 1 => n,
            _ => default,
        };
        prop_assert_eq!(q.page, want(&page, 1));
        prop_assert_eq!(q.per_page, want(&per_page, DEFAULT_PER_PAGE).min(MAX_PER_PAGE));
    }
}
