use serde_json::{json, Map, Value};

use crate::{Expr, MAX_DEPTH};

fn vars(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn ev(src: &str, v: &Map<String, Value>) -> Value {
    Expr::compile(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .eval(v)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn evb(src: &str, v: &Map<String, Value>) -> bool {
    Expr::compile(src)
        .unwrap()
        .eval_bool(v)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn literals_and_arithmetic() {
    let v = Map::new();
    assert_eq!(ev("1 + 2 * 3", &v), json!(7));
    assert_eq!(ev("(1 + 2) * 3", &v), json!(9));
    assert_eq!(ev("10 / 4", &v), json!(2.5));
    assert_eq!(ev("10 % 4", &v), json!(2));
    assert_eq!(ev("-2 - -3", &v), json!(1));
    assert_eq!(ev("'a' + \"b\"", &v), json!("ab"));
    assert_eq!(ev("'n=' + 5", &v), json!("n=5"));
    assert_eq!(ev("[1, 'x', true, nil]", &v), json!([1, "x", true, null]));
    assert_eq!(ev("'it\\'s'", &v), json!("it's"));
    assert_eq!(ev("1.5e2", &v), json!(150));
    assert_eq!(ev("true ? 1 : 2", &v), json!(1));
    assert_eq!(ev("null ? 1 : false ? 2 : 3", &v), json!(3));
}

#[test]
fn precedence_of_logic_and_comparison() {
    let v = Map::new();
    assert!(evb("1 < 2 && 2 < 3 || false", &v));
    assert!(evb("false || true && true", &v));
    assert!(!evb("!(1 == 1)", &v));
    assert!(evb("not false and 1 + 1 == 2", &v));
    assert!(evb("1 + 1 === 2 && 'a' !== 'b'", &v));
    assert!(evb("2 >= 2 and 3 <= 4 and 5 > 4 and 1 != 2", &v));
}

#[test]
fn members_and_missing_keys() {
    let v = vars(json!({"record": {"total": 10, "tags": ["a", "b"], "nested": {"x": "y"}}}));
    assert_eq!(ev("record.total", &v), json!(10));
    assert_eq!(ev("record[\"total\"]", &v), json!(10));
    assert_eq!(ev("record.tags[1]", &v), json!("b"));
    assert_eq!(ev("record.nested.x", &v), json!("y"));
    assert_eq!(ev("record.missing", &v), Value::Null);
    assert_eq!(ev("record.missing.deeper", &v), Value::Null);
    assert_eq!(ev("nothing.at.all", &v), Value::Null);
    assert!(evb(
        "record.missing == nil && record.missing == null && record.missing === undefined",
        &v
    ));
}

#[test]
fn null_safe_comparisons() {
    let v = vars(json!({"record": {"a": null}}));
    for src in [
        "record.a < 1",
        "record.a > 1",
        "record.a <= 1",
        "record.a >= 1",
        "1 < record.a",
        "'x' < 1",
    ] {
        assert!(!evb(src, &v), "{src}");
    }
    assert!(evb("record.a == nil", &v));
    assert!(evb("record.a != 0", &v));
    assert!(
        Expr::compile("record.a + 1").unwrap().eval(&v).is_err(),
        "null arithmetic is an error"
    );
    assert!(Expr::compile("1 / 0").unwrap().eval(&v).is_err());
}

#[test]
fn membership() {
    let v = vars(json!({"user": {"roles": ["admin", "editor"]}, "s": "hello"}));
    assert!(evb("'admin' in user.roles", &v));
    assert!(!evb("'viewer' in user.roles", &v));
    assert!(evb("'viewer' not in user.roles", &v));
    assert!(evb("2 in [1, 2, 3]", &v));
    assert!(evb("'ell' in s", &v));
    assert!(!evb("'x' in nothing", &v));
    assert!(evb("!('viewer' in user.roles)", &v));
}

#[test]
fn functions_and_dates() {
    let v = vars(
        json!({"record": {"s": "héllo", "l": [1, 2], "start": "2026-03-01", "end": "2026-03-05T10:00:00Z"}}),
    );
    assert_eq!(ev("len(record.s)", &v), json!(5));
    assert_eq!(ev("len(record.l)", &v), json!(2));
    assert_eq!(ev("len(record.none)", &v), json!(0));
    assert_eq!(ev("upper('ab') + lower('CD')", &v), json!("ABcd"));
    assert!(evb("new Date(record.end) >= new Date(record.start)", &v));
    assert!(evb("Date(record.end) > Date('2026-01-01')", &v));
    assert!(evb("now() > Date('2020-01-01')", &v));
    assert!(
        evb("new Date(record.end) > record.start", &v),
        "a date compares with a date string"
    );
    assert!(!evb("new Date('garbage') > new Date(record.start)", &v));
}

/// Every example of semantics.md §8.3.
#[test]
fn spec_examples() {
    let ship =
        vars(json!({"record": {"status": "shipped", "tracking_no": null}, "old": {}, "action": "create"}));
    assert!(evb(
        "record.status == 'shipped' && record.tracking_no == nil",
        &ship
    ));
    let dates = vars(json!({"record": {"starts_on": "2026-03-05", "ends_on": "2026-03-01"}}));
    assert!(evb(
        "record.ends_on != nil && record.ends_on <= record.starts_on",
        &dates
    ));
    let lock = vars(json!({"action": "update", "old": {"status": "archived"}}));
    assert!(evb("action == 'update' && old.status == 'archived'", &lock));
    let owner = vars(
        json!({"action": "update", "old": {"owner_id": "a"}, "record": {"owner_id": "b"},
                             "user": {"roles": ["editor"]}}),
    );
    assert!(evb(
        "action == 'update' && old.owner_id != record.owner_id && !('admin' in user.roles)",
        &owner
    ));
    let total = vars(
        json!({"record": {"subtotal": 100.5, "shipping": 4.5, "first_name": "Ada", "last_name": "Lovelace"}}),
    );
    assert_eq!(ev("record.subtotal + record.shipping", &total), json!(105));
    assert_eq!(
        ev("record.first_name + ' ' + record.last_name", &total),
        json!("Ada Lovelace")
    );
    let guard = vars(json!({"record": {"total": 5, "customer_id": "c1"}}));
    assert!(evb("record.total > 0 && record.customer_id != nil", &guard));
    let hook = vars(json!({"action": "update", "record": {"status": "paid"}, "old": {"status": "placed"}}));
    assert!(evb(
        "action == 'update' && record.status == 'paid' && (old == nil || old.status != 'paid')",
        &hook
    ));
    let js = vars(json!({"record": {"status": "resolved"}}));
    assert!(evb("record.status === 'resolved'", &js));
    let jsdate = vars(json!({"record": {"start_date": "2026-03-01", "end_date": "2026-03-02"}}));
    assert!(evb(
        "new Date(record.end_date) >= new Date(record.start_date)",
        &jsdate
    ));
    let wf = vars(json!({"context": {"amount": 750}}));
    assert!(evb("context.amount > 500", &wf));
}

#[test]
fn errors_carry_positions() {
    let e = Expr::compile("record.total >").unwrap_err();
    assert_eq!(e.pos, 14, "{e}");
    let e = Expr::compile("a # b").unwrap_err();
    assert_eq!(e.pos, 2);
    let e = Expr::compile("'open").unwrap_err();
    assert_eq!((e.pos, e.message.as_str()), (0, "unterminated string"));
    let e = Expr::compile("(1 + 2").unwrap_err();
    assert_eq!(e.pos, 6);
    let e = Expr::compile("frobnicate(1)").unwrap_err();
    assert!(e.message.contains("unknown function"), "{e}");
    assert!(e.to_string().ends_with("at position 0"));
    let v = Map::new();
    let e = Expr::compile("1 + 'x' - 2").unwrap().eval(&v).unwrap_err();
    assert_eq!(e.pos, 8, "{e}");
    assert!(
        Expr::compile("1 + 1").unwrap().eval_bool(&v).is_err(),
        "non-boolean condition"
    );
}

#[test]
fn depth_and_size_limits() {
    let deep = format!("{}1{}", "(".repeat(MAX_DEPTH + 5), ")".repeat(MAX_DEPTH + 5));
    assert!(Expr::compile(&deep).is_err());
    let nots = format!("{}true", "!".repeat(10_000.min(crate::MAX_SOURCE_LEN - 10)));
    assert!(Expr::compile(&nots).is_err());
    let chain = vec!["a"; 1000].join(" + ");
    assert!(Expr::compile(&chain).is_err(), "tall operator trees are refused");
    assert!(Expr::compile(&"1".repeat(crate::MAX_SOURCE_LEN + 1)).is_err());
    assert!(Expr::compile(&vec!["a"; 50].join(" && ")).is_ok());
}

mod fuzz {
    use proptest::prelude::*;

    use crate::Expr;

    fn env() -> serde_json::Map<String, serde_json::Value> {
        serde_json::json!({"record": {"a": 1, "s": "x", "l": [1, 2], "o": {"k": null}}, "old": {}, "action": "create"})
            .as_object()
            .cloned()
            .unwrap()
    }

    proptest! {
        // ROCKET_FUZZ_CASES lets a long run (see README) go far beyond the default.
        #![proptest_config(ProptestConfig::with_cases(std::env::var("ROCKET_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)))]

        #[test]
        fn arbitrary_text_never_panics(src in ".{0,200}") {
            if let Ok(e) = Expr::compile(&src) {
                let _ = e.eval(&env());
                let _ = e.eval_bool(&env());
            }
        }

        #[test]
        fn token_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("record"), Just("."), Just("a"), Just("s"), Just("l"), Just("["), Just("]"), Just("("), Just(")"),
            Just("+"), Just("-"), Just("*"), Just("/"), Just("%"), Just("=="), Just("==="), Just("!="), Just("<"),
            Just(">="), Just("&&"), Just("||"), Just("!"), Just("not"), Just("in"), Just("?"), Just(":"), Just(","),
            Just("1"), Just("0"), Just("'x'"), Just("nil"), Just("true"), Just("len"), Just("new"), Just("Date"),
            Just("now"), Just("()"), Just("old"), Just("o"), Just("k"),
        ], 0..40)) {
            let src = parts.join(" ");
            if let Ok(e) = Expr::compile(&src) {
                let _ = e.eval(&env());
            }
        }
    }
}
