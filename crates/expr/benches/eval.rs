//! `cargo bench -p rocket-expr`: compile and evaluate the spec's examples.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rocket_expr::Expr;
use serde_json::json;

const EXAMPLES: &[&str] = &[
    "record.amount > 10000 && record.status == \"approved\"",
    "record.status == 'shipped' && record.tracking_no == nil",
    "action == 'update' && old.owner_id != record.owner_id && !('admin' in user.roles)",
    "record.first_name + ' ' + record.last_name",
    "new Date(record.end_date) >= new Date(record.start_date)",
];

fn bench(c: &mut Criterion) {
    let vars = json!({
        "record": {"amount": 25000, "status": "approved", "tracking_no": null, "owner_id": "b",
                   "first_name": "Ada", "last_name": "Lovelace", "start_date": "2026-03-01", "end_date": "2026-03-02"},
        "old": {"owner_id": "a"}, "action": "update", "user": {"id": "u", "roles": ["editor"]},
    });
    let vars = vars.as_object().cloned().unwrap_or_default();
    for (i, src) in EXAMPLES.iter().enumerate() {
        c.bench_function(&format!("compile/{i}"), |b| {
            b.iter(|| Expr::compile(black_box(src)))
        });
        let e = Expr::compile(src).expect("example compiles");
        c.bench_function(&format!("eval/{i}"), |b| b.iter(|| e.eval(black_box(&vars))));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
