use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::lex::{lex, Tok};
use crate::{Expr, ExprError, Vars, VarsSlice, MAX_DEPTH, MAX_SOURCE_LEN};

fn vars(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

fn try_ev(src: &str, v: &Map<String, Value>) -> Result<Value, ExprError> {
    Expr::compile(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .eval(v)
}

fn ev(src: &str, v: &Map<String, Value>) -> Value {
    try_ev(src, v).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn evb(src: &str, v: &Map<String, Value>) -> bool {
    Expr::compile(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .eval_bool(v)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The evaluation error of `src` (which must compile).
fn ev_err(src: &str, v: &Map<String, Value>) -> ExprError {
    match try_ev(src, v) {
        Ok(x) => panic!("{src}: expected an error, got {x}"),
        Err(e) => e,
    }
}

fn compile_err(src: &str) -> ExprError {
    match Expr::compile(src) {
        Ok(_) => panic!("{src}: expected a compile error"),
        Err(e) => e,
    }
}

fn empty() -> Map<String, Value> {
    Map::new()
}

/// A record with one value of every kind, for the operator tests.
fn data() -> Map<String, Value> {
    vars(json!({
        "record": {
            "i": 7, "f": 2.5, "zero": 0, "s": "héllo", "empty": "", "t": true, "n": null,
            "l": [1, 2.0, "x", null], "o": {"k": "v", "n": null}, "num_s": "10",
            "big": 9007199254740993u64, "d": "2026-03-05T10:00:00Z", "day": "2026-03-01",
            "first name": "Ada", "key": "k", "nested": {"a": {"b": {"c": 42}}},
        },
        "user": {"id": "u1", "roles": ["editor", "admin"]},
        "action": "update",
    }))
}

// ---------------------------------------------------------------- tokenizer

#[test]
fn tokenizer_produces_positions_and_kinds() {
    let toks = lex("record.total >= 1_000 && s === 'a\\'b'").unwrap();
    let got: Vec<(Tok, usize)> = toks.into_iter().map(|t| (t.tok, t.pos)).collect();
    assert_eq!(
        got,
        vec![
            (Tok::Word("record"), 0),
            (Tok::Op("."), 6),
            (Tok::Word("total"), 7),
            (Tok::Op(">="), 13),
            (Tok::Int(1000), 16),
            (Tok::Op("&&"), 22),
            (Tok::Word("s"), 25),
            (Tok::Op("==="), 27),
            (Tok::Str("a'b".into()), 31),
            (Tok::Eof, 37),
        ]
    );
}

#[test]
fn tokenizer_numbers() {
    fn one(s: &str) -> Tok<'_> {
        lex(s).unwrap()[0].tok.clone()
    }
    assert_eq!(one("42"), Tok::Int(42));
    assert_eq!(one("1.5"), Tok::Float(1.5));
    assert_eq!(one(".5"), Tok::Float(0.5));
    assert_eq!(one("2e3"), Tok::Float(2000.0));
    assert_eq!(one("1.5E-2"), Tok::Float(0.015));
    assert_eq!(one("9223372036854775807"), Tok::Int(i64::MAX));
    assert_eq!(one("9223372036854775808"), Tok::Float(9.223372036854776e18));
    assert_eq!(compile_err("1e999").message, "number out of range");
    // `1.` is not a number with a dot; `1 .x` is member access on a number.
    assert!(Expr::compile("1.").is_err());
}

#[test]
fn tokenizer_strings_and_escapes() {
    let v = empty();
    assert_eq!(ev(r#"'single' + "double""#, &v), json!("singledouble"));
    assert_eq!(
        ev(r#""q\"q" + 'a\nb\tc\\d' + "\u00e9\u{1F600}""#, &v),
        json!("q\"qa\nb\tc\\dé😀")
    );
    assert_eq!(ev(r"'\uD83D\uDE00'", &v), json!("😀"), "surrogate pair");
    assert_eq!(
        ev(r"'\q'", &v),
        json!("q"),
        "unknown escapes stand for themselves"
    );
    assert_eq!(ev("'unicode é ok'", &v), json!("unicode é ok"));
    assert_eq!(compile_err(r"'\uD83D'").message, "invalid unicode escape");
    assert_eq!(compile_err(r"'ab\u{110000}'").pos, 3);
    assert_eq!(compile_err(r"'\u12'").message, "invalid unicode escape");
    assert_eq!(compile_err("'open").message, "unterminated string");
    assert_eq!(compile_err("x == \"open\\\"").pos, 5);
}

#[test]
fn tokenizer_rejects_unknown_characters_with_hints() {
    let e = compile_err("a = 1");
    assert_eq!(e.pos, 2);
    assert!(e.message.contains("use '=='"), "{e}");
    assert!(compile_err("a & b").message.contains("'&&'"));
    assert!(compile_err("a | b").message.contains("'||'"));
    let e = compile_err("a + é");
    assert_eq!((e.pos, e.message.as_str()), (4, "unexpected character 'é'"));
    assert_eq!(compile_err("a # b").pos, 2);
}

// ---------------------------------------------------------------- parser and precedence

#[test]
fn precedence_follows_javascript() {
    let v = empty();
    assert_eq!(ev("1 + 2 * 3", &v), json!(7));
    assert_eq!(ev("(1 + 2) * 3", &v), json!(9));
    assert_eq!(ev("10 - 4 - 3", &v), json!(3), "left associative");
    assert_eq!(ev("2 * 6 / 3 % 3", &v), json!(1));
    assert_eq!(ev("-2 * 3", &v), json!(-6));
    assert_eq!(ev("- (2 + 3)", &v), json!(-5));
    assert!(evb("1 + 1 == 2", &v));
    assert!(
        evb("1 < 2 == 2 < 3", &v),
        "relational binds tighter than equality"
    );
    assert!(evb("true || false && false", &v), "&& binds tighter than ||");
    assert!(!evb("(true || false) && false", &v));
    assert!(evb("false || true && true", &v));
    assert!(!evb("!true && true", &v), "unary binds tighter than &&");
    assert!(evb("not false and 1 + 1 == 2", &v));
    assert!(evb("1 + 1 === 2 && 'a' !== 'b'", &v));
    assert!(evb("2 in [1, 2] == true", &v), "in binds tighter than ==");
    assert_eq!(ev("true ? 1 : 2", &v), json!(1));
    assert_eq!(ev("false ? 1 : true ? 2 : 3", &v), json!(2), "right associative");
    assert_eq!(ev("null ? 1 : false ? 2 : 3", &v), json!(3));
    assert_eq!(ev("1 > 2 || 3 > 2 ? 'y' : 'n'", &v), json!("y"), "?: is loosest");
    assert_eq!(ev("true ? false ? 1 : 2 : 3", &v), json!(2));
    assert_eq!(
        ev("nil ?? 2 * 3", &v),
        json!(6),
        "?? binds tighter than * (expr-lang)"
    );
    assert_eq!(ev("(nil ?? 2) + 1", &v), json!(3));
}

#[test]
fn parser_accepts_full_grammar() {
    for src in [
        "a",
        "a.b.c",
        "a['b'].c[0][-1]",
        "a?.b?.[0]",
        "[]",
        "[1, [2, [3]], 'x',]",
        "len([])",
        "new Date",
        "new Date()",
        "new Date('2026-01-01')",
        "Date()",
        "now()",
        "x not in [1]",
        "!x",
        "not not x",
        "+1",
        "- -1",
        "a ?? b ?? c",
        "a ? b : c ? d : e",
        "record.in && record.null == record.not",
        "$x + _y",
        "  1  ",
    ] {
        Expr::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    }
}

#[test]
fn syntax_errors_carry_positions() {
    for (src, pos, msg) in [
        ("", 0, "unexpected end of expression"),
        ("record.total >", 14, "unexpected end of expression"),
        ("(1 + 2", 6, "expected ')', found end of expression"),
        ("[1, 2", 5, "expected ']', found end of expression"),
        (
            "a.",
            2,
            "expected a field name after '.', found end of expression",
        ),
        ("a.1", 1, "unexpected number 0.1"),
        ("1 2", 2, "unexpected number 2"),
        ("a ? b", 5, "expected ':', found end of expression"),
        ("a && && b", 5, "unexpected '&&'"),
        ("x in", 4, "unexpected end of expression"),
        ("and", 0, "unexpected 'and'"),
        ("frobnicate(1)", 0, "unknown function 'frobnicate'"),
        ("1 + len()", 4, "len() takes 1 argument, got 0"),
        ("now(1)", 0, "now() takes 0 arguments, got 1"),
        ("Date(1, 2)", 0, "Date() takes 0 to 1 arguments, got 2"),
        ("new Foo()", 0, "only 'new Date(…)' is supported"),
        ("record.f(1)", 8, "only the built-in functions can be called"),
        ("a ) b", 2, "unexpected ')'"),
    ] {
        let e = compile_err(src);
        assert_eq!((e.pos, e.message.as_str()), (pos, msg), "{src}");
        assert_eq!(e.to_string(), format!("{msg} at position {pos}"));
    }
}

// ---------------------------------------------------------------- operators

#[test]
fn equality_operators() {
    let v = data();
    for src in [
        "1 == 1",
        "1 == 1.0",
        "record.i == 7.0",
        "record.l[1] == 2",
        "'a' == 'a'",
        "true == true",
        "nil == nil",
        "null == undefined",
        "record.n == nil",
        "record.missing == nil",
        "record.l == [1, 2, 'x', nil]",
        "[1, 2.0] == [1.0, 2]",
        "record.o == record.o",
        "new Date('garbage') == nil",
        "record.d == new Date('2026-03-05 10:00:00')",
        "new Date('2026-03-05T12:00:00+02:00') == record.d",
        "record.big == 9007199254740993",
        "1 === 1 && 1 !== 2 && 1 != 2",
    ] {
        assert!(evb(src, &v), "{src}");
    }
    for src in [
        "1 == '1'",
        "record.num_s == 10",
        "0 == false",
        "'' == nil",
        "0 == nil",
        "nil == false",
        "record.o == nil",
        "[1] == [1, 2]",
        // Found by the fuzz test: this once recursed forever.
        "record.o == record.l",
        "record.l == record.o",
        "[record.o] == [record.l]",
        "record.big == 9007199254740992",
        "record.d == 'garbage'",
        "1 != 1",
        "nil != nil",
    ] {
        assert!(!evb(src, &v), "{src}");
    }
}

#[test]
fn ordering_operators() {
    let v = data();
    for src in [
        "1 < 2",
        "2 <= 2",
        "3 > 2.5",
        "2.5 >= 2.5",
        "record.i > record.f",
        "-1 < 0",
        "'abc' < 'abd'",
        "'B' < 'a'",
        "'10' < '9'",
        "record.big > 9007199254740992",
        "record.big < 9007199254740994.0",
        "9223372036854775807 < 1e19",
        "record.day < record.d",
        "new Date(record.day) < new Date(record.d)",
        "now() > new Date('2020-01-01')",
        "new Date(record.d) > '2026-03-01'",
        "'2026-03-05T11:00:00+02:00' < new Date(record.d)",
    ] {
        assert!(evb(src, &v), "{src}");
    }
    // No order between null, booleans, mixed types or bad dates: false, not an error.
    for src in [
        "record.n < 1",
        "record.n > 1",
        "record.n <= 1",
        "record.n >= 1",
        "1 < record.n",
        "1 >= nil",
        "nil <= nil",
        "record.missing > 0",
        "'x' < 1",
        "record.num_s > 9",
        "true > false",
        "[1] < [2]",
        "new Date('garbage') < now()",
        "new Date(record.d) > 'yesterday'",
        "new Date(record.d) > 5",
    ] {
        assert!(!evb(src, &v), "{src}");
    }
}

#[test]
fn logic_operators_and_short_circuit() {
    let v = data();
    assert!(evb("true && true", &v));
    assert!(!evb("true and false", &v));
    assert!(evb("false || true", &v));
    assert!(!evb("false or false", &v));
    assert!(evb("!false", &v));
    assert!(evb("not false", &v));
    assert!(evb("!!true", &v));
    // Truthiness as in JavaScript.
    assert!(evb("record.s && record.i && record.l && record.o && now()", &v));
    assert!(!evb(
        "record.empty || record.zero || record.n || record.missing",
        &v
    ));
    assert!(evb("![]  == false && !record.empty", &v));
    // Short-circuit: the right side would fail.
    assert!(!evb("false && 1 / 0 == 1", &v));
    assert!(evb("true || 1 / 0 == 1", &v));
    assert!(!evb("record.n != nil && record.n.x > 'a' + 1", &v));
    assert_eq!(ev("true ? 1 : 1 / 0", &v), json!(1));
    assert_eq!(ev("false ? 1 / 0 : 2", &v), json!(2));
    assert_eq!(ev("1 ?? (1 / 0)", &v), json!(1));
    assert_eq!(ev("record.n ?? record.missing ?? 'dflt'", &v), json!("dflt"));
    assert_eq!(ev("record.zero ?? 5", &v), json!(0), "?? only replaces null");
    assert_eq!(ev("nil ?? nil", &v), Value::Null);
    // && and || always yield booleans, never an operand.
    assert_eq!(ev("record.s || 'x'", &v), json!(true));
    assert_eq!(ev("record.s && 'x'", &v), json!(true));
    assert_eq!(ev_err("true && 1 / 0 == 1", &v).pos, 10);
}

#[test]
fn arithmetic_operators() {
    let v = data();
    assert_eq!(ev("2 + 3", &v), json!(5));
    assert_eq!(ev("2 - 3", &v), json!(-1));
    assert_eq!(ev("2 * 3", &v), json!(6));
    assert_eq!(ev("7 / 2", &v), json!(3.5));
    assert_eq!(ev("6 / 3", &v), json!(2));
    assert_eq!(ev("7 % 3", &v), json!(1));
    assert_eq!(ev("-7 % 3", &v), json!(-1), "sign of the dividend, as in JS");
    assert_eq!(ev("5.5 % 2", &v), json!(1.5));
    assert_eq!(ev("-record.i", &v), json!(-7));
    assert_eq!(ev("+record.f", &v), json!(2.5));
    assert_eq!(ev("- -3", &v), json!(3));
    assert_eq!(ev("record.i * record.f", &v), json!(17.5));
    assert_eq!(ev("0.1 + 0.2", &v), json!(0.30000000000000004));
    assert_eq!(
        ev("100.5 + 4.5", &v),
        json!(105),
        "integral floats print as integers"
    );
    assert_eq!(ev("1.5e2", &v), json!(150));
    // Integers stay exact; overflow falls back to floats.
    assert_eq!(ev("record.big + 1", &v), json!(9007199254740994u64));
    assert_eq!(ev("9223372036854775807 + 1", &v), json!(9.223372036854776e18));
    assert_eq!(ev("-9223372036854775807 - 10", &v), json!(-9.223372036854776e18));
    assert_eq!(ev("9223372036854775807 * 2", &v), json!(1.8446744073709552e19));
    assert_eq!(ev("-9223372036854775807 - 1", &v), json!(i64::MIN));
    assert_eq!(ev("-(-9223372036854775807 - 1)", &v), json!(9.223372036854776e18));
    assert_eq!(ev("(-9223372036854775807 - 1) % -1", &v), json!(0));
    // Errors, each at its operator.
    for (src, pos, msg) in [
        ("1 / 0", 2, "division by zero"),
        ("1 % 0", 2, "division by zero"),
        ("1.5 / 0.0", 4, "division by zero"),
        ("1e308 * 10", 6, "numeric overflow"),
        ("1e308 + 1e308", 6, "numeric overflow"),
        ("record.n + 1", 9, "invalid operands for '+': null and number"),
        (
            "1 - record.missing",
            2,
            "invalid operands for '-': number and null",
        ),
        (
            "record.num_s * 2",
            13,
            "invalid operands for '*': string and number",
        ),
        ("true + 1", 5, "invalid operands for '+': boolean and number"),
        ("[1] + [2]", 4, "invalid operands for '+': array and array"),
        ("-'x'", 0, "cannot negate string"),
        ("+record.num_s", 0, "unary '+' needs a number, got string"),
        ("1 + 'x' - 2", 2, "invalid operands for '+': number and string"),
    ] {
        let e = ev_err(src, &v);
        assert_eq!((e.pos, e.message.as_str()), (pos, msg), "{src}");
    }
}

#[test]
fn string_concatenation() {
    let v = data();
    assert_eq!(ev("'a' + \"b\"", &v), json!("ab"));
    assert_eq!(ev("record.s + ' ' + record.s", &v), json!("héllo héllo"));
    assert_eq!(ev("'#' + string(record.i)", &v), json!("#7"));
    assert_eq!(ev("'' + ''", &v), json!(""));
    // Only string + string concatenates (expr-lang); anything else is an error.
    assert!(ev_err("'n=' + 5", &v).message.contains("string and number"));
    assert!(ev_err("5 + 'x'", &v).message.contains("number and string"));
    assert!(ev_err("'x' + nil", &v).message.contains("string and null"));
}

#[test]
fn membership_operators() {
    let v = data();
    for src in [
        "'admin' in user.roles",
        "'viewer' not in user.roles",
        "!('viewer' in user.roles)",
        "2 in [1, 2, 3]",
        "2.0 in [1, 2, 3]",
        "1 in record.l",
        "nil in record.l",
        "'x' in record.l",
        "'k' in record.o",
        "'n' in record.o",
        "'missing' not in record.o",
        "[1] in [[1], [2]]",
        "record.i in [7]",
    ] {
        assert!(evb(src, &v), "{src}");
    }
    for src in [
        "'viewer' in user.roles",
        "'1' in [1]",
        "'x' in nothing",
        "'x' in record.n",
        "1 in record.o",
        "'admin' in []",
    ] {
        assert!(!evb(src, &v), "{src}");
    }
    assert!(evb("'x' not in nothing", &v), "not in null is true");
    // A string is not a collection: no silent substring matches.
    let e = ev_err("'adm' in user.id", &v);
    assert_eq!(e.pos, 6);
    assert_eq!(
        e.message,
        "'in' needs an array or object on the right, got string"
    );
    assert!(try_ev("1 in 1", &v).is_err());
}

// ---------------------------------------------------------------- variables and members

#[test]
fn members_indexes_and_missing_keys() {
    let v = data();
    assert_eq!(ev("record.i", &v), json!(7));
    assert_eq!(ev("record[\"i\"]", &v), json!(7));
    assert_eq!(ev("record['first name']", &v), json!("Ada"));
    assert_eq!(ev("record.nested.a.b.c", &v), json!(42));
    assert_eq!(ev("record['nested']['a'].b['c']", &v), json!(42));
    assert_eq!(ev("record.o[record.key]", &v), json!("v"), "computed key");
    assert_eq!(ev("record.l[0]", &v), json!(1));
    assert_eq!(ev("record.l[2]", &v), json!("x"));
    assert_eq!(ev("record.l[-1]", &v), Value::Null);
    assert_eq!(ev("record.l[-2]", &v), json!("x"), "negative counts from the end");
    assert_eq!(ev("record.l[1.0]", &v), json!(2));
    assert_eq!(ev("record.l[9]", &v), Value::Null);
    assert_eq!(ev("record.l[0.5]", &v), Value::Null);
    assert_eq!(ev("record.l[true]", &v), Value::Null);
    assert_eq!(ev("[10, 20, 30][1]", &v), json!(20));
    assert_eq!(ev("record.s[1]", &v), json!("é"));
    assert_eq!(ev("record.s[-1]", &v), json!("o"));
    assert_eq!(ev("record.s.length", &v), json!(5));
    assert_eq!(ev("record.l.length", &v), json!(4));
    assert_eq!(ev("[1, 2].length", &v), json!(2));
    assert_eq!(ev("record.i.x", &v), Value::Null);
    assert_eq!(ev("record.missing", &v), Value::Null);
    assert_eq!(ev("record.missing.deeper[0].more", &v), Value::Null);
    assert_eq!(ev("nothing.at.all", &v), Value::Null);
    assert_eq!(
        ev("nothing[1 / 0]", &v),
        Value::Null,
        "steps after null are skipped"
    );
    assert_eq!(ev("record?.o?.k", &v), json!("v"));
    assert_eq!(ev("record.l?.[2]", &v), json!("x"));
    assert_eq!(ev("record", &v)["i"], json!(7));
    assert!(evb("record.missing == nil && record.missing === undefined", &v));
    // Keywords are fine as member names.
    let kw = vars(json!({"r": {"in": 1, "null": 2, "not": 3, "and": 4, "true": 5, "new": 6}}));
    assert_eq!(
        ev("r.in + r.null + r.not + r.and + r.true + r.new", &kw),
        json!(21)
    );
}

// ---------------------------------------------------------------- functions and dates

#[test]
fn functions() {
    let v = data();
    assert_eq!(ev("len(record.s)", &v), json!(5), "characters, not bytes");
    assert_eq!(ev("len(record.l)", &v), json!(4));
    assert_eq!(ev("len(record.o)", &v), json!(2));
    assert_eq!(ev("len([1, 2, 3])", &v), json!(3));
    assert_eq!(ev("len('')", &v), json!(0));
    assert_eq!(ev("len(record.missing)", &v), json!(0));
    assert_eq!(
        ev("upper('ab') + lower('CD') + trim('  e f ')", &v),
        json!("ABcde f")
    );
    assert_eq!(ev("lower(record.missing)", &v), Value::Null);
    assert_eq!(
        ev("string(1.5) + string(true) + string(nil)", &v),
        json!("1.5truenull")
    );
    assert_eq!(ev("string(record.l)", &v), json!(r#"[1,2.0,"x",null]"#));
    assert_eq!(
        ev("String(new Date('2026-03-01'))", &v),
        json!("2026-03-01T00:00:00Z")
    );
    assert_eq!(ev("int(record.num_s) + 1", &v), json!(11));
    assert_eq!(ev("int(' -3.9 ')", &v), json!(-3));
    assert_eq!(ev("int(2.9)", &v), json!(2));
    assert_eq!(ev("int(nil)", &v), Value::Null);
    assert_eq!(ev("float('2.5') * 2", &v), json!(5));
    assert_eq!(ev("Number('0.25')", &v), json!(0.25));
    assert!(evb("int(record.num_s) > 9", &v));
    for (src, msg) in [
        ("len(5)", "len() expects a string, array or object, got number"),
        ("upper(1)", "upper() expects a string, got number"),
        ("int('abc')", "int() cannot convert \"abc\" to a number"),
        ("int(1e300)", "int() expects a number in range, got number"),
        (
            "float(true)",
            "float() expects a number or numeric string, got boolean",
        ),
        ("float('inf')", "float() cannot convert \"inf\" to a number"),
    ] {
        let e = ev_err(src, &v);
        assert_eq!((e.pos, e.message.as_str()), (0, msg), "{src}");
    }
}

#[test]
fn dates() {
    let v = data();
    let now = ev("now()", &v);
    let now = now.as_str().expect("now() is an RFC 3339 string");
    assert!(now.ends_with('Z') && now.len() >= 20, "{now}");
    assert_eq!(ev("new Date(record.day)", &v), json!("2026-03-01T00:00:00Z"));
    assert_eq!(
        ev("Date('2026-03-01 10:30:00')", &v),
        json!("2026-03-01T10:30:00Z")
    );
    assert_eq!(
        ev("new Date(0)", &v),
        json!("1970-01-01T00:00:00Z"),
        "milliseconds"
    );
    assert_eq!(ev("new Date(1772359200000)", &v), json!("2026-03-01T10:00:00Z"));
    assert_eq!(ev("Date(Date(record.d))", &v), json!("2026-03-05T10:00:00Z"));
    assert_eq!(ev("new Date('garbage')", &v), Value::Null, "invalid date");
    assert_eq!(ev("new Date(nil)", &v), Value::Null);
    assert_eq!(ev("new Date(true)", &v), Value::Null);
    assert!(evb(
        "new Date() >= new Date(record.d) && new Date >= new Date(record.d)",
        &v
    ));
    // date − date is milliseconds, as in JavaScript.
    assert_eq!(
        ev("new Date(record.d) - new Date(record.day)", &v),
        json!(381_600_000)
    );
    assert!(evb(
        "(new Date(record.d) - new Date(record.day)) / 86400000 > 4",
        &v
    ));
    assert!(try_ev("new Date(record.d) + 1", &v).is_err());
    assert!(try_ev("new Date(record.d) - 1", &v).is_err());
    assert!(evb(
        "Date('2026-03-01T10:00:00+00:00') == '2026-03-01 10:00:00+00'",
        &v
    ));
}

// ---------------------------------------------------------------- eval_bool, API

#[test]
fn eval_bool_requires_a_boolean() {
    let v = data();
    let e = Expr::compile("record.i + 1").unwrap();
    let err = e.eval_bool(&v).unwrap_err();
    assert_eq!(err.pos, 0);
    assert_eq!(err.message, "expression must evaluate to a boolean, got number");
    assert!(Expr::compile("record.n").unwrap().eval_bool(&v).is_err());
    assert!(Expr::compile("record.l").unwrap().eval_bool(&v).is_err());
    assert!(Expr::compile("record.t").unwrap().eval_bool(&v).unwrap());
    assert!(Expr::compile("!record.n").unwrap().eval_bool(&v).unwrap());
}

#[test]
fn api_shapes() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Expr>();
    shareable::<ExprError>();

    let src = "action == 'update' && record.amount > 10000";
    let e = Expr::compile(src).unwrap();
    assert_eq!(e.source(), src);
    assert_eq!(e.clone().source(), src);
    assert_eq!(format!("{e:?}"), format!("Expr({src:?})"));

    let record = json!({"amount": 20000});
    let action = json!("update");
    let pairs = [("record", &record), ("action", &action)];
    assert!(e.eval_bool(&pairs).unwrap(), "fixed-size array of pairs");
    assert!(e.eval_bool(&VarsSlice(&pairs)).unwrap(), "VarsSlice");
    let v: Vec<(&str, &Value)> = pairs.to_vec();
    assert!(e.eval_bool(&VarsSlice(&v)).unwrap());
    assert!(e.eval_bool(&&pairs[..]).unwrap(), "a slice behind a reference");
    let obj = json!({"record": record, "action": "update"});
    assert!(e.eval_bool(&obj).unwrap(), "a JSON object");
    assert!(e.eval_bool(obj.as_object().unwrap()).unwrap(), "serde_json::Map");
    let hm: HashMap<String, Value> = obj.as_object().unwrap().clone().into_iter().collect();
    assert!(e.eval_bool(&hm).unwrap(), "HashMap");
    let bt: std::collections::BTreeMap<String, Value> = hm.clone().into_iter().collect();
    assert!(e.eval_bool(&bt).unwrap(), "BTreeMap");
    assert!(!e.eval_bool(&json!(5)).unwrap(), "no variables: all null");
    assert_eq!(VarsSlice(&pairs).get("nope"), None);

    // One compiled expression, many threads.
    let e2 = e.clone();
    std::thread::spawn(move || assert!(e2.eval_bool(&obj).unwrap()))
        .join()
        .unwrap();
}

// ---------------------------------------------------------------- semantics.md §8.3

/// Every example of semantics.md §8.3, each with data that makes it true and
/// data that makes it false (or with its computed value).
#[test]
fn spec_examples() {
    let cases: &[(&str, Value, Value)] = &[
        (
            "record.status == 'shipped' && record.tracking_no == nil",
            json!({"record": {"status": "shipped", "tracking_no": null}, "old": {}, "action": "create"}),
            json!(true),
        ),
        (
            "record.status == 'shipped' && record.tracking_no == nil",
            json!({"record": {"status": "shipped", "tracking_no": "1Z"}, "old": {}, "action": "create"}),
            json!(false),
        ),
        (
            "record.status == 'shipped' && record.tracking_no == nil",
            json!({"record": {"status": "shipped"}, "old": {}, "action": "create"}),
            json!(true),
        ),
        (
            "record.ends_on != nil && record.ends_on <= record.starts_on",
            json!({"record": {"starts_on": "2026-03-05", "ends_on": "2026-03-01"}}),
            json!(true),
        ),
        (
            "record.ends_on != nil && record.ends_on <= record.starts_on",
            json!({"record": {"starts_on": "2026-03-05", "ends_on": "2026-03-09"}}),
            json!(false),
        ),
        (
            "record.ends_on != nil && record.ends_on <= record.starts_on",
            json!({"record": {"starts_on": "2026-03-05", "ends_on": null}}),
            json!(false),
        ),
        (
            "action == 'update' && old.status == 'archived'",
            json!({"action": "update", "old": {"status": "archived"}, "record": {}}),
            json!(true),
        ),
        (
            "action == 'update' && old.status == 'archived'",
            json!({"action": "create", "old": {}, "record": {}}),
            json!(false),
        ),
        (
            "action == 'update' && old.owner_id != record.owner_id && !('admin' in user.roles)",
            json!({"action": "update", "old": {"owner_id": "a"}, "record": {"owner_id": "b"},
                   "user": {"id": "u", "roles": ["editor"]}}),
            json!(true),
        ),
        (
            "action == 'update' && old.owner_id != record.owner_id && !('admin' in user.roles)",
            json!({"action": "update", "old": {"owner_id": "a"}, "record": {"owner_id": "b"},
                   "user": {"id": "u", "roles": ["admin"]}}),
            json!(false),
        ),
        (
            "action == 'update' && old.owner_id != record.owner_id && !('admin' in user.roles)",
            json!({"action": "update", "old": {"owner_id": "a"}, "record": {"owner_id": "b"}}),
            json!(true),
        ),
        (
            "record.subtotal + record.shipping",
            json!({"record": {"subtotal": 100.5, "shipping": 4.5}}),
            json!(105),
        ),
        (
            "record.subtotal + record.shipping",
            json!({"record": {"subtotal": 100, "shipping": 4.25}}),
            json!(104.25),
        ),
        (
            "record.first_name + ' ' + record.last_name",
            json!({"record": {"first_name": "Ada", "last_name": "Lovelace"}}),
            json!("Ada Lovelace"),
        ),
        (
            "record.total > 0 && record.customer_id != nil",
            json!({"record": {"total": 5, "customer_id": "c1"}}),
            json!(true),
        ),
        (
            "record.total > 0 && record.customer_id != nil",
            json!({"record": {"total": 0, "customer_id": "c1"}}),
            json!(false),
        ),
        (
            "record.total > 0 && record.customer_id != nil",
            json!({"record": {"customer_id": "c1"}}),
            json!(false),
        ),
        (
            "action == 'update' && record.status == 'paid' && (old == nil || old.status != 'paid')",
            json!({"action": "update", "record": {"status": "paid"}, "old": {"status": "placed"}}),
            json!(true),
        ),
        (
            "action == 'update' && record.status == 'paid' && (old == nil || old.status != 'paid')",
            json!({"action": "update", "record": {"status": "paid"}, "old": {"status": "paid"}}),
            json!(false),
        ),
        (
            "action == 'update' && record.status == 'paid' && (old == nil || old.status != 'paid')",
            json!({"action": "update", "record": {"status": "paid"}, "old": null}),
            json!(true),
        ),
        (
            "record.status === 'resolved'",
            json!({"record": {"status": "resolved"}}),
            json!(true),
        ),
        (
            "record.status === 'resolved'",
            json!({"record": {"status": "open"}}),
            json!(false),
        ),
        (
            "new Date(record.end_date) >= new Date(record.start_date)",
            json!({"record": {"start_date": "2026-03-01", "end_date": "2026-03-02T08:00:00Z"}}),
            json!(true),
        ),
        (
            "new Date(record.end_date) >= new Date(record.start_date)",
            json!({"record": {"start_date": "2026-03-01T10:00:00+02:00", "end_date": "2026-03-01 08:00:00"}}),
            json!(true),
        ),
        (
            "new Date(record.end_date) >= new Date(record.start_date)",
            json!({"record": {"start_date": "2026-03-02", "end_date": "2026-03-01"}}),
            json!(false),
        ),
        (
            "new Date(record.end_date) >= new Date(record.start_date)",
            json!({"record": {"start_date": "2026-03-02"}}),
            json!(false),
        ),
        (
            "context.amount > 500",
            json!({"context": {"amount": 750}}),
            json!(true),
        ),
        (
            "context.amount > 500",
            json!({"context": {"amount": 500.0}}),
            json!(false),
        ),
        ("context.amount > 500", json!({"context": {}}), json!(false)),
        (
            "record.amount > 10000 && record.status == \"approved\"",
            json!({"record": {"amount": 25000, "status": "approved"}}),
            json!(true),
        ),
    ];
    for (src, data, want) in cases {
        let got = ev(src, &vars(data.clone()));
        assert_eq!(&got, want, "{src} with {data}");
        if want.is_boolean() {
            let b = Expr::compile(src).unwrap().eval_bool(data).unwrap();
            assert_eq!(Some(b), want.as_bool(), "{src}");
        }
    }
    // The computed total with a missing term is an error (as in the Go reference).
    let e = ev_err(
        "record.subtotal + record.shipping",
        &vars(json!({"record": {"subtotal": 1}})),
    );
    assert_eq!(e.pos, 16);
}

// ---------------------------------------------------------------- limits

#[test]
fn source_size_limit() {
    let at_limit = format!("1{}", " ".repeat(MAX_SOURCE_LEN - 1));
    assert!(Expr::compile(&at_limit).is_ok());
    let e = compile_err(&"1".repeat(MAX_SOURCE_LEN + 1));
    assert_eq!(e.pos, MAX_SOURCE_LEN);
    assert_eq!(e.message, "expression longer than 4096 bytes");
}

#[test]
fn depth_limit() {
    let nest = |open: &str, close: &str, n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
    // The top-level expression is one level, so 63 nested parentheses fit.
    assert!(Expr::compile(&nest("(", ")", MAX_DEPTH - 1)).is_ok());
    let e = compile_err(&nest("(", ")", MAX_DEPTH));
    assert_eq!(e.message, "expression nests deeper than 64 levels");
    assert_eq!(e.pos, MAX_DEPTH, "position of the innermost refused level");
    for (open, close) in [
        ("[", "]"),
        ("!", ""),
        ("-", ""),
        ("+", ""),
        ("not ", ""),
        ("len(", ")"),
    ] {
        assert!(Expr::compile(&nest(open, close, 2000)).is_err(), "{open}…{close}");
        assert!(
            Expr::compile(&nest(open, close, MAX_DEPTH / 2)).is_ok(),
            "{open}…{close}"
        );
    }
    let ternary = format!("{}0", "true ? 1 : ".repeat(MAX_DEPTH + 1));
    assert!(Expr::compile(&ternary).is_err());
    let index = format!("a{}", "[a".repeat(100)) + &"]".repeat(100);
    assert!(Expr::compile(&index).is_err());
}

#[test]
fn long_flat_chains_are_fine() {
    let v = vars(json!({"a": 1, "o": {"o": {"o": {}}}}));
    // Operator runs and member paths are flat: only the size limit bounds them.
    let sum = vec!["a"; 1300].join("+");
    assert_eq!(ev(&sum, &v), json!(1300));
    let and = vec!["a==1"; 500].join("&&");
    assert!(evb(&and, &v));
    let or = vec!["a==2"; 400].join(" or ");
    assert!(!evb(&or, &v));
    let path = format!("o{}", ".o".repeat(2000));
    assert_eq!(ev(&path, &v), Value::Null);
    let coalesce = format!("{}a", "nil ?? ".repeat(500));
    assert_eq!(ev(&coalesce, &v), json!(1));
    let array = format!("len([{}])", vec!["1"; 2000].join(","));
    assert_eq!(ev(&array, &v), json!(2000));
}

/// Wraps `seed` with `wrap` as often as still compiles (within the size
/// limit); returns the deepest accepted expression.
fn deepest(seed: &str, wrap: impl Fn(&str) -> String) -> String {
    let mut s = seed.to_string();
    loop {
        let next = wrap(&s);
        if next.len() > MAX_SOURCE_LEN || Expr::compile(&next).is_err() {
            return s;
        }
        s = next;
    }
}

#[test]
fn tree_height_limit() {
    // No parentheses, yet one tree level per precedence level; nesting that
    // would make the tree taller than MAX_DEPTH is refused.
    let step = |w: &str| format!("({w} ?? 1 * 1 + 0 > 0 == true && true || false ? 1 : 0)");
    let ok = deepest("x", step);
    assert!(ok.matches('(').count() >= 6, "{ok}");
    let e = compile_err(&step(&step(&ok)));
    assert_eq!(e.message, "expression nests deeper than 64 levels");
    let v = vars(json!({"x": 1}));
    assert_eq!(ev(&ok, &v), json!(1));
}

/// The deepest accepted expressions, and the deepest that the parser reads
/// before refusing them, fit a small stack (tokio's worker threads have
/// 2 MiB; this uses a quarter of that), even in an unoptimised build.
#[test]
fn deepest_expressions_fit_a_small_stack() {
    let accepted = [
        deepest("x", |w| {
            format!("({w} ?? 1 * 1 + 0 > 0 == true && true || false ? 1 : 0)")
        }),
        deepest("x", |w| format!("(x || {w})")),
        deepest("x", |w| format!("[!{w}][0]")),
        deepest("x", |w| format!("-{w}")),
        deepest("x", |w| format!("len([{w}]) + x")),
        deepest("x", |w| format!("x.a[{w}]")),
        deepest("x", |w| format!("x ? x : {w}")),
    ];
    for s in &accepted {
        assert!(s.len() > 60, "{s}");
    }
    // Read to the parenthesis limit, then refused for the tree's height.
    let mut refused = String::from("1");
    for _ in 0..MAX_DEPTH - 1 {
        refused = format!("(1 || 1 && 1 == 1 < 1 + 1 * -{refused})");
    }
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let v = vars(json!({"x": 1}));
            for s in &accepted {
                let e = Expr::compile(s).unwrap_or_else(|e| panic!("{s}: {e}"));
                let _ = e.eval(&v);
            }
            assert!(Expr::compile(&refused).is_err());
        })
        .unwrap()
        .join()
        .unwrap();
}

// ---------------------------------------------------------------- fuzzing

mod fuzz {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use crate::Expr;

    fn env() -> serde_json::Map<String, Value> {
        json!({
            "record": {"a": 1, "f": 1.5, "s": "x", "d": "2026-03-01", "l": [1, 2, "x", null],
                       "o": {"k": null, "n": {"m": [true]}}, "big": 9223372036854775807i64},
            "old": {}, "action": "create", "user": {"roles": ["admin"]},
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    /// Compiles and, when that works, evaluates in every mode; a panic fails
    /// the property.
    fn run(src: &str) {
        if let Ok(e) = Expr::compile(src) {
            let _ = e.eval(&env());
            let _ = e.eval_bool(&env());
            let _ = e.eval(&Value::Null);
        }
    }

    const TOKENS: &[&str] = &[
        "record",
        "old",
        "action",
        "user",
        "roles",
        ".",
        "?.",
        "a",
        "f",
        "s",
        "d",
        "l",
        "o",
        "k",
        "n",
        "m",
        "big",
        "length",
        "[",
        "]",
        "(",
        ")",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "===",
        "!=",
        "!==",
        "<",
        "<=",
        ">",
        ">=",
        "&&",
        "||",
        "!",
        "and",
        "or",
        "not",
        "in",
        "??",
        "?",
        ":",
        ",",
        "1",
        "0",
        "-1",
        "2.5",
        "1e308",
        "9223372036854775807",
        "'x'",
        "\"\"",
        "'2026-03-01'",
        "nil",
        "null",
        "undefined",
        "true",
        "false",
        "len",
        "now",
        "new",
        "Date",
        "lower",
        "upper",
        "trim",
        "string",
        "int",
        "float",
        "Number",
        "()",
    ];

    /// Syntactically valid expressions of bounded depth.
    fn valid() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("record.a".to_string()),
            Just("record.f".to_string()),
            Just("record.s".to_string()),
            Just("record.d".to_string()),
            Just("record.l".to_string()),
            Just("record.o".to_string()),
            Just("record.big".to_string()),
            Just("old.x".to_string()),
            Just("user.roles".to_string()),
            Just("nil".to_string()),
            Just("now()".to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:?}")),
            "[a-z ]{0,5}".prop_map(|s| format!("'{s}'")),
            any::<bool>().prop_map(|b| b.to_string()),
        ];
        leaf.prop_recursive(6, 64, 4, |inner| {
            let op = prop_oneof![
                Just("+"),
                Just("-"),
                Just("*"),
                Just("/"),
                Just("%"),
                Just("=="),
                Just("!=="),
                Just("<"),
                Just(">="),
                Just("&&"),
                Just("||"),
                Just("in"),
                Just("not in"),
                Just("??"),
            ];
            prop_oneof![
                (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
                inner.clone().prop_map(|a| format!("!{a}")),
                inner.clone().prop_map(|a| format!("-{a}")),
                inner.clone().prop_map(|a| format!("new Date({a})")),
                inner.clone().prop_map(|a| format!("len({a})")),
                inner.clone().prop_map(|a| format!("string({a})")),
                inner.clone().prop_map(|a| format!("int({a})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("{a}[{b}]")),
            ]
        })
    }

    fn cases() -> u32 {
        // ROCKET_FUZZ_CASES lets a long run (see README) go far beyond the default.
        std::env::var("ROCKET_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn fuzz_arbitrary_text_never_panics(src in ".{0,200}") {
            run(&src);
        }

        #[test]
        fn fuzz_ascii_text_never_panics(src in "[ -~]{0,120}") {
            run(&src);
        }

        #[test]
        fn fuzz_token_soup_never_panics(parts in proptest::collection::vec(
            proptest::sample::select(TOKENS), 0..60)) {
            run(&parts.join(" "));
            run(&parts.concat());
        }

        #[test]
        fn fuzz_valid_expressions_compile_and_never_panic(src in valid()) {
            let e = Expr::compile(&src);
            prop_assert!(e.is_ok(), "{}: {:?}", src, e.err());
            run(&src);
        }
    }
}
