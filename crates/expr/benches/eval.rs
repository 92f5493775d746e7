//! `cargo bench -p rocket-expr`: compile and evaluate the examples of
//! semantics.md §8.3 (plus the headline rule) against one sample context.
//! Prints numbers; it is not a pass/fail test.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rocket_expr::{Expr, VarsSlice};
use serde_json::json;

/// (name, expression); the first is the headline (target: < 1 µs per eval).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "amount_and_status",
        r#"record.amount > 10000 && record.status == "approved""#,
    ),
    (
        "conditional_requirement",
        "record.status == 'shipped' && record.tracking_no == nil",
    ),
    (
        "cross_field",
        "record.ends_on != nil && record.ends_on <= record.starts_on",
    ),
    ("lock_archived", "action == 'update' && old.status == 'archived'"),
    (
        "role_restriction",
        "action == 'update' && old.owner_id != record.owner_id && !('admin' in user.roles)",
    ),
    ("computed_total", "record.subtotal + record.shipping"),
    ("computed_label", "record.first_name + ' ' + record.last_name"),
    ("guard", "record.total > 0 && record.customer_id != nil"),
    (
        "webhook_condition",
        "action == 'update' && record.status == 'paid' && (old == nil || old.status != 'paid')",
    ),
    ("js_strict_equal", "record.status === 'resolved'"),
    (
        "js_dates",
        "new Date(record.end_date) >= new Date(record.start_date)",
    ),
    ("workflow_condition", "context.amount > 500"),
];

fn bench(c: &mut Criterion) {
    let vars = json!({
        "record": {
            "amount": 25000, "status": "approved", "tracking_no": null, "owner_id": "b",
            "ends_on": "2026-03-01", "starts_on": "2026-03-05", "subtotal": 100.5, "shipping": 4.5,
            "first_name": "Ada", "last_name": "Lovelace", "total": 10, "customer_id": "c1",
            "start_date": "2026-03-01", "end_date": "2026-03-02T10:00:00Z",
            "notes": "a longer text field that is never read", "lines": [1, 2, 3],
        },
        "old": {"owner_id": "a", "status": "placed"},
        "action": "update",
        "user": {"id": "u", "roles": ["editor"]},
        "context": {"amount": 750},
    });
    let map = vars.as_object().cloned().unwrap_or_default();

    let mut compile = c.benchmark_group("compile");
    for (name, src) in EXAMPLES {
        compile.bench_function(*name, |b| b.iter(|| Expr::compile(black_box(src))));
    }
    compile.finish();

    let mut eval = c.benchmark_group("eval");
    for (name, src) in EXAMPLES {
        let e = Expr::compile(src).expect("example compiles");
        eval.bench_function(*name, |b| b.iter(|| e.eval(black_box(&map))));
    }
    eval.finish();

    // The headline rule as the engine would run it: a boolean condition over
    // borrowed variables, against a map and against a slice of pairs.
    let headline = Expr::compile(EXAMPLES[0].1).expect("compiles");
    let mut cond = c.benchmark_group("eval_bool");
    cond.bench_function("amount_and_status/map", |b| {
        b.iter(|| headline.eval_bool(black_box(&map)))
    });
    let record = &vars["record"];
    let action = &vars["action"];
    let pairs = [("record", record), ("action", action)];
    cond.bench_function("amount_and_status/slice", |b| {
        b.iter(|| headline.eval_bool(black_box(&VarsSlice(&pairs))))
    });
    cond.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
