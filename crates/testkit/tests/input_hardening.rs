//! Input that once answered 5xx on PostgreSQL or differed between the stores
//! (issue 19; docs/decisions/014-input-rules.md), one test per class, on both
//! stores: NUL characters, long values in indexed columns, out-of-range
//! filter values, file fields, concurrent generated slugs, and a property
//! test of arbitrary input into every field type that must never see a 5xx.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use rocket_testkit::{json, store_tests, Method, Resp, TestServer};
use serde_json::Value;

store_tests!(
    nul_characters_are_400_everywhere,
    long_values_in_indexed_fields_are_422,
    out_of_range_filter_values_are_400,
    file_fields_take_file_ids_or_objects,
    concurrent_generated_slugs_never_conflict,
    arbitrary_input_never_answers_5xx,
);

/// One app with the `thing` entity (every field type; unique, indexed and
/// slug fields) and its admin token.
struct App<'a> {
    s: &'a TestServer,
    name: String,
    token: String,
}

impl App<'_> {
    fn url(&self, p: &str) -> String {
        format!("/api/{}{p}", self.name)
    }
    async fn call(&self, m: Method, p: &str, body: Option<Value>) -> Resp {
        self.s.call(m, &self.url(p), Some(&self.token), body).await
    }
    /// Sends `body` as written (escapes such as `\ud800` reach the server raw).
    async fn raw(&self, m: Method, p: &str, body: &str) -> Resp {
        raw(self.s, m, &self.url(p), Some(&self.token), body).await
    }
}

async fn raw(s: &TestServer, m: Method, path: &str, token: Option<&str>, body: &str) -> Resp {
    let mut req = s
        .http
        .request(m, format!("{}{path}", s.url))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.expect("body read");
    Resp {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

/// Every field type, in the order the property test walks them.
const FIELDS: [(&str, &str); 14] = [
    ("code", "string"),
    ("tag", "string"),
    ("title", "string"),
    ("ref", "string"),
    ("body", "text"),
    ("qty", "int"),
    ("big", "bigint"),
    ("ratio", "float"),
    ("price", "decimal"),
    ("ok", "boolean"),
    ("other", "uuid"),
    ("at", "timestamp"),
    ("on", "date"),
    ("doc", "json"),
];

async fn app(s: &TestServer) -> App<'_> {
    let a = s.create_app().await;
    let app = App {
        s,
        name: a.name,
        token: a.token,
    };
    let r = app
        .call(
            Method::POST,
            "/_admin/entities",
            Some(json!({"name": "thing", "table": "things",
                "primary_key": {"field": "id", "type": "uuid", "generated": true},
                "slug": {"field": "ref", "source": "title"},
                "fields": [
                    {"name": "id", "type": "uuid"},
                    {"name": "code", "type": "string", "unique": true},
                    {"name": "tag", "type": "string", "indexed": true},
                    {"name": "title", "type": "string"},
                    {"name": "ref", "type": "string", "unique": true},
                    {"name": "body", "type": "text"},
                    {"name": "qty", "type": "int", "indexed": true},
                    {"name": "big", "type": "bigint", "unique": true},
                    {"name": "ratio", "type": "float"},
                    {"name": "price", "type": "decimal", "precision": 2},
                    {"name": "ok", "type": "boolean"},
                    {"name": "other", "type": "uuid", "indexed": true},
                    {"name": "at", "type": "timestamp"},
                    {"name": "on", "type": "date"},
                    {"name": "doc", "type": "json"},
                    {"name": "attachment", "type": "file"}]})),
        )
        .await;
    assert_eq!(r.status, 201, "create entity: {:?}", r.body);
    app
}

fn is_invalid_payload(r: &Resp) -> bool {
    r.status == 400 && r.code() == "INVALID_PAYLOAD"
}

/// Rule: a NUL (U+0000) anywhere in decoded input — a JSON key or string at
/// any depth, a query value, a path segment — is 400 INVALID_PAYLOAD, on both
/// stores, before anything reaches the database.
async fn nul_characters_are_400_everywhere(s: &TestServer) {
    let a = app(s).await;
    let mut wrong = Vec::new();
    let mut check = |what: &str, r: Resp| {
        if !is_invalid_payload(&r) || (what.starts_with("filter") && what.ends_with("named false)")) {
            wrong.push(format!("{what}: {} {}", r.status, r.body));
        }
    };
    // Unauthenticated login bodies (app and platform).
    let login = r#"{"email": "admin@localhost\u0000", "password": "changeme"}"#;
    check(
        "app login",
        raw(s, Method::POST, &a.url("/auth/login"), None, login).await,
    );
    check(
        "platform login",
        raw(s, Method::POST, "/api/_platform/auth/login", None, login).await,
    );
    // Record bodies: a field, a JSON key, a JSON value at depth.
    for body in [
        r#"{"code": "a\u0000b"}"#,
        r#"{"title": "\u0000"}"#,
        r#"{"doc": {"k\u0000": 1}}"#,
        r#"{"doc": {"k": [1, {"x": "\u0000"}]}}"#,
        r#"{"qty": "1\u0000"}"#,
        r#"{"nope\u0000": 1}"#,
    ] {
        check(body, a.raw(Method::POST, "/thing", body).await);
    }
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"code": "c1", "title": "One"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().expect("id").to_string();
    check(
        "update",
        a.raw(Method::PUT, &format!("/thing/{id}"), r#"{"tag": "x\u0000"}"#)
            .await,
    );
    // An admin body goes through the same extractor.
    check(
        "admin body",
        a.raw(
            Method::POST,
            "/_admin/entities",
            r#"{"name": "x\u0000", "table": "t", "primary_key": {"field": "id", "type": "uuid"}, "fields": []}"#,
        )
        .await,
    );
    // Filter values of every kind, `in` items and `like` patterns.
    for qs in [
        "filter[code]=%00",
        "filter[code.in]=a,b%00",
        "filter[title.like]=%25%00%25",
        "filter[qty]=1%00",
        "filter[other]=%00",
    ] {
        let r = a.call(Method::GET, &format!("/thing?{qs}"), None).await;
        let named = r.message().starts_with("Invalid filter value for ");
        check(&format!("{qs} (message {:?}, named {named})", r.message()), r);
    }
    // Path segments: record ids (uuid key and slug lookup), entity names.
    for (m, p) in [
        (Method::GET, "/thing/ab%00cd".to_string()),
        (Method::GET, format!("/thing/{id}%00")),
        (Method::PUT, "/thing/%00".to_string()),
        (Method::DELETE, "/thing/one%00".to_string()),
        (Method::GET, "/thi%00ng".to_string()),
        (Method::GET, "/_admin/entities/thing%00".to_string()),
    ] {
        check(
            &format!("{m} {p}"),
            a.call(m.clone(), &p, (m == Method::PUT).then(|| json!({}))).await,
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Nothing with a NUL was stored.
    let r = a.call(Method::GET, "/thing", None).await;
    assert_eq!(r.data().as_array().map(Vec::len), Some(1), "{:?}", r.body);
}

fn detail_fields(r: &Resp, rule: &str) -> Vec<String> {
    r.body["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["rule"] == rule)
        .filter_map(|d| d["field"].as_str().map(String::from))
        .collect()
}

/// Rule: a string in an indexed column (primary key, unique, indexed, slug,
/// relation key) longer than `writes.max_indexed_length` UTF-8 bytes (2048)
/// is 422 VALIDATION_FAILED with a `max_length` detail naming the field; a
/// generated slug is cut to fit instead.
async fn long_values_in_indexed_fields_are_422(s: &TestServer) {
    let a = app(s).await;
    let long = "x".repeat(3000);
    for field in ["code", "tag", "ref"] {
        let r = a.call(Method::POST, "/thing", Some(json!({ field: long }))).await;
        assert_eq!(
            (r.status, r.code(), detail_fields(&r, "max_length")),
            (422, "VALIDATION_FAILED", vec![field.to_string()]),
            "{field}: {:?}",
            r.body
        );
    }
    // Bytes, not characters: 1500 two-byte characters are over, 1000 are not.
    let r = a
        .call(Method::POST, "/thing", Some(json!({"code": "é".repeat(1500)})))
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = a
        .call(Method::POST, "/thing", Some(json!({"code": "é".repeat(1000)})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // At the limit is stored (the index takes it on PostgreSQL).
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"code": "y".repeat(2048), "tag": "t".repeat(2048), "ref": "r".repeat(2048)})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // A field without an index takes a long value; the slug made from it fits.
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"title": "Long title ".repeat(10_000), "body": long})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let slug = r.data()["ref"].as_str().expect("slug").to_string();
    assert!(
        slug.starts_with("long-title-") && slug.len() <= 2048,
        "{}",
        slug.len()
    );
    let id = r.data()["id"].as_str().expect("id").to_string();
    // The same title again: a numbered slug, still within the limit.
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"title": "Long title ".repeat(10_000)})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["ref"], format!("{slug}-2"));
    // Updates are checked the same way.
    let r = a
        .call(Method::PUT, &format!("/thing/{id}"), Some(json!({"tag": long})))
        .await;
    assert_eq!(detail_fields(&r, "max_length"), ["tag"], "{:?}", r.body);
    // A filter with a long value only reads: a result, not an error.
    let r = a
        .call(Method::GET, &format!("/thing?filter[code]={long}"), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // The limit is configurable.
    let Some(small) = TestServer::start_with(s.store, |c| c.writes.max_indexed_length = 10).await else {
        return;
    };
    let b = app(&small).await;
    let r = b
        .call(Method::POST, "/thing", Some(json!({"code": "12345678901"})))
        .await;
    assert_eq!(detail_fields(&r, "max_length"), ["code"], "{:?}", r.body);
    let r = b
        .call(
            Method::POST,
            "/thing",
            Some(json!({"code": "1234567890", "title": "A rather long title"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(
        r.data()["ref"].as_str().is_some_and(|s| s.len() <= 10),
        "{:?}",
        r.body
    );
    small.stop().await;
}

/// Rule: a filter value must fit the column: `int` i32, `bigint` i64, floats
/// finite; else 400 INVALID_PAYLOAD "Invalid filter value for <field>", the
/// same on both stores (PostgreSQL answered 422 with its type names, SQLite 200).
async fn out_of_range_filter_values_are_400(s: &TestServer) {
    let a = app(s).await;
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"code": "c", "qty": 2147483647, "big": 9223372036854775807i64, "price": 1.5, "ratio": 0.5})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    for (qs, n) in [
        ("filter[qty]=2147483647", 1),
        ("filter[qty.gte]=-2147483648", 1),
        ("filter[big]=9223372036854775807", 1),
        ("filter[big.gt]=-9223372036854775808", 1),
        ("filter[price.gt]=1e-400", 1),
        ("filter[ratio.lt]=1e300", 1),
    ] {
        let r = a.call(Method::GET, &format!("/thing?{qs}"), None).await;
        assert_eq!(r.status, 200, "{qs}: {:?}", r.body);
        assert_eq!(r.data().as_array().map(Vec::len), Some(n), "{qs}");
    }
    for (qs, field) in [
        ("filter[qty]=2147483648", "qty"),
        ("filter[qty.lt]=-2147483649", "qty"),
        ("filter[qty]=99999999999", "qty"),
        ("filter[qty.in]=1,9223372036854775807", "qty"),
        ("filter[big]=9223372036854775808", "big"),
        ("filter[big.lt]=-99999999999999999999", "big"),
        ("filter[price]=NaN", "price"),
        ("filter[price.gt]=inf", "price"),
        ("filter[price.lt]=-Infinity", "price"),
        ("filter[price]=1e400", "price"),
        ("filter[ratio]=nan", "ratio"),
        ("filter[ratio.not_in]=1,1e999", "ratio"),
    ] {
        let r = a.call(Method::GET, &format!("/thing?{qs}"), None).await;
        assert!(
            is_invalid_payload(&r)
                && r.message()
                    .starts_with(&format!("Invalid filter value for {field}: ")),
            "{qs}: {} {}",
            r.status,
            r.body
        );
    }
}

/// Rule (semantics.md §4.1 step 8, tightened): a file field takes null, a
/// file object, or a lowercase UUID of an uploaded file (unknown → 404);
/// anything else is 422 VALIDATION_FAILED with a `type` detail naming it.
async fn file_fields_take_file_ids_or_objects(s: &TestServer) {
    let a = app(s).await;
    for v in [
        json!("not-a-file"),
        json!(""),
        json!("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
        json!(42),
        json!(true),
        json!(["00000000-0000-4000-8000-000000000000"]),
    ] {
        let r = a
            .call(Method::POST, "/thing", Some(json!({ "attachment": v })))
            .await;
        assert_eq!(
            (r.status, r.code(), detail_fields(&r, "type")),
            (422, "VALIDATION_FAILED", vec!["attachment".to_string()]),
            "{v}: {:?}",
            r.body
        );
    }
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"attachment": "00000000-0000-4000-8000-000000000000"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{:?}", r.body);
    let obj = json!({"id": "x", "filename": "a.txt"});
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"code": "o", "attachment": obj})),
        )
        .await;
    assert_eq!((r.status, &r.data()["attachment"]), (201, &obj), "{:?}", r.body);
    let id = r.data()["id"].as_str().expect("id").to_string();
    let r = a
        .call(
            Method::PUT,
            &format!("/thing/{id}"),
            Some(json!({"attachment": 7})),
        )
        .await;
    assert_eq!(detail_fields(&r, "type"), ["attachment"], "{:?}", r.body);
    let r = a
        .call(
            Method::PUT,
            &format!("/thing/{id}"),
            Some(json!({"attachment": null})),
        )
        .await;
    assert_eq!(
        (r.status, &r.data()["attachment"]),
        (200, &Value::Null),
        "{:?}",
        r.body
    );
}

/// Rule: a generated slug never surfaces a conflict: the numbered search
/// (`-2` … `-100`) then random suffixes, retried while other writers win.
async fn concurrent_generated_slugs_never_conflict(s: &TestServer) {
    let a = app(s).await;
    const N: usize = 120;
    let futs: Vec<_> = (0..N)
        .map(|_| a.call(Method::POST, "/thing", Some(json!({"title": "Same Title"}))))
        .collect();
    let results = futures::future::join_all(futs).await;
    let mut slugs = BTreeSet::new();
    for r in &results {
        assert_eq!(r.status, 201, "{:?}", r.body);
        slugs.insert(r.data()["ref"].as_str().expect("slug").to_string());
    }
    assert_eq!(slugs.len(), N, "distinct slugs");
    assert!(slugs.contains("same-title") && slugs.contains("same-title-100"));
    // Past -100 the suffix is random, and still a slug.
    let r = a
        .call(Method::POST, "/thing", Some(json!({"title": "Same Title"})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let extra = r.data()["ref"].as_str().expect("slug").to_string();
    assert!(
        !slugs.contains(&extra) && extra.starts_with("same-title-"),
        "{extra}"
    );
}

// ---------------------------------------------------------------------------
// Property test

/// A JSON value as raw text: arbitrary strings (with NULs, control
/// characters, long runs), escapes serde cannot produce (lone surrogates),
/// and odd numbers and shapes.
fn raw_value() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f]{0,8}",
        ".{0,20}\\x00.{0,20}",
        (any::<char>(), 50_000usize..100_000).prop_map(|(c, n)| c.to_string().repeat(n / c.len_utf8())),
        "[0-9a-f-]{36}",
        "-?[0-9]{1,40}(\\.[0-9]{0,10})?(e-?[0-9]{1,4})?",
    ];
    prop_oneof![
        4 => text.prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        1 => prop::sample::select(vec![
            r#""\ud800""#,
            r#""a\udfffb""#,
            r#""\ud800\u0041""#,
            r#""\u0000""#,
            r#"{"k\u0000": "\ud83d"}"#,
            "1e400",
            "-1e400",
            "99999999999999999999999",
            "-0",
            "true",
            "[]",
            "[\"\\u0000\"]",
            "{}",
            "null",
        ])
        .prop_map(String::from),
    ]
}

/// Arbitrary bytes percent-encoded (invalid UTF-8 and NULs included).
fn raw_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        any::<String>().prop_map(String::into_bytes),
    ]
    .prop_map(|b| b.iter().map(|x| format!("%{x:02X}")).collect())
}

fn cases() -> u32 {
    std::env::var("ROCKET_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Arbitrary input into every field type through create, update, filters
/// and path ids: never a 5xx, on either store.
async fn arbitrary_input_never_answers_5xx(s: &TestServer) {
    let a = app(s).await;
    let r = a
        .call(
            Method::POST,
            "/thing",
            Some(json!({"code": "seed", "title": "Seed"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().expect("id").to_string();
    let mut runner = TestRunner::new(PropConfig {
        cases: cases(),
        ..PropConfig::default()
    });
    let strategy = (raw_value(), raw_segment(), 0..FIELDS.len() + 1);
    let mut failures = Vec::new();
    for case in 0..cases() {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let (value, segment, pick) = tree.current();
        let mut requests: Vec<(Method, String, Option<String>)> = Vec::new();
        for (name, _) in FIELDS.iter().chain([("attachment", "file")].iter()) {
            let body = format!(r#"{{"code": "k{case}-{name}", "{name}": {value}}}"#);
            requests.push((Method::POST, "/thing".into(), Some(body)));
            requests.push((Method::GET, format!("/thing?filter[{name}]={segment}"), None));
        }
        let (name, _) = FIELDS.get(pick).copied().unwrap_or(("attachment", "file"));
        requests.push((
            Method::PUT,
            format!("/thing/{id}"),
            Some(format!(r#"{{"{name}": {value}}}"#)),
        ));
        requests.push((
            Method::GET,
            format!("/thing?filter[{name}.in]=1,{segment}&filter[code.like]={segment}&sort={segment}"),
            None,
        ));
        requests.push((Method::GET, format!("/thing/{segment}"), None));
        requests.push((
            Method::PUT,
            format!("/thing/{segment}"),
            Some(format!(r#"{{"title": {value}}}"#)),
        ));
        requests.push((Method::DELETE, format!("/thing/x{segment}"), None));
        for (m, p, body) in requests {
            let r = match &body {
                Some(b) => a.raw(m.clone(), &p, b).await,
                None => raw(a.s, m.clone(), &a.url(&p), Some(&a.token), "").await,
            };
            if r.status >= 500 {
                let shown: String = body.unwrap_or_default().chars().take(300).collect();
                let path: String = p.chars().take(300).collect();
                failures.push(format!("{m} {path} {shown}: {} {}", r.status, r.body));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} 5xx answers: {failures:#?}",
        failures.len()
    );
}
