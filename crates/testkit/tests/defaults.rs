//! A field's `default` is validated against its type when the entity is
//! saved (admin create, update and import), with the same 422 on both
//! stores; valid defaults land in records with their type.

use rocket_testkit::{json, store_tests, TestServer};
use serde_json::Value;

store_tests!(
    bad_defaults_are_refused_naming_the_field,
    bad_defaults_on_update_and_import_are_refused,
    good_defaults_fill_records_with_their_type
);

fn entity(fields: Value) -> Value {
    let mut all = vec![json!({"name": "id", "type": "uuid"})];
    all.extend(fields.as_array().cloned().unwrap_or_default());
    json!({"name": "item", "table": "items",
           "primary_key": {"field": "id", "type": "uuid", "generated": true},
           "fields": all})
}

async fn bad_defaults_are_refused_naming_the_field(s: &TestServer) {
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    let path = format!("/api/{}/_admin/entities", app.name);
    for field in [
        json!({"name": "qty", "type": "int", "default": "abc"}),
        json!({"name": "qty", "type": "int", "default": 3_000_000_000i64}),
        json!({"name": "big", "type": "bigint", "default": 1.5}),
        json!({"name": "price", "type": "decimal", "default": "cheap"}),
        json!({"name": "ratio", "type": "float", "default": [1]}),
        json!({"name": "active", "type": "boolean", "default": "yes"}),
        json!({"name": "ref", "type": "uuid", "default": "not-a-uuid"}),
        json!({"name": "at", "type": "timestamp", "default": "tomorrow"}),
        json!({"name": "day", "type": "date", "default": "2024-02-30"}),
        json!({"name": "title", "type": "string", "default": {"a": 1}}),
        json!({"name": "kind", "type": "string", "enum": ["tool", "toy"], "default": "car"}),
    ] {
        let name = field["name"].as_str().unwrap_or_default().to_string();
        let r = s.post(&path, t, entity(json!([field]))).await;
        assert_eq!(r.status, 422, "{field}: {:?}", r.body);
        assert_eq!(r.code(), "VALIDATION_FAILED", "{field}");
        assert!(
            r.message().starts_with(&format!("field {name}: default")),
            "{field}: {}",
            r.message()
        );
    }
    // Nothing was migrated: the name is still free.
    let r = s.get(&format!("{path}/item"), t).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}

async fn bad_defaults_on_update_and_import_are_refused(s: &TestServer) {
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    let base = format!("/api/{}/_admin", app.name);
    let good = entity(json!([{"name": "qty", "type": "int", "default": 1}]));
    let r = s.post(&format!("{base}/entities"), t, good).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let bad = entity(json!([{"name": "qty", "type": "int", "default": 1},
                            {"name": "stock", "type": "int", "default": "lots"}]));
    let r = s.put(&format!("{base}/entities/item"), t, bad).await;
    assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{:?}", r.body);
    assert!(r.message().contains("field stock"), "{}", r.message());

    let doc = json!({"version": 1, "entities": [
        {"name": "other", "table": "others", "primary_key": {"field": "id", "type": "uuid", "generated": true},
         "fields": [{"name": "id", "type": "uuid"}, {"name": "on", "type": "boolean", "default": "no"}]}]});
    let r = s.post(&format!("{base}/import"), t, doc).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let errors = r.data()["errors"].to_string();
    assert!(errors.contains("Entity other: field on: default"), "{errors}");
    assert_eq!(s.get(&format!("{base}/entities/other"), t).await.status, 404);
}

async fn good_defaults_fill_records_with_their_type(s: &TestServer) {
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    let base = format!("/api/{}", app.name);
    let fields = json!([
        {"name": "label", "type": "string", "default": "new"},
        {"name": "qty", "type": "int", "default": "7"},
        {"name": "big", "type": "bigint", "default": 9_000_000_000i64},
        {"name": "price", "type": "decimal", "precision": 2, "default": 1.5},
        {"name": "active", "type": "boolean", "default": false},
        {"name": "ref", "type": "uuid", "default": "6f1c0a3e-8b2d-4c1e-9f00-0123456789ab"},
        {"name": "day", "type": "date", "default": "2024-05-01"},
        {"name": "kind", "type": "string", "enum": ["tool", "toy"], "default": "toy"},
        {"name": "meta", "type": "json", "default": {"tags": ["a"]}}
    ]);
    let r = s
        .post(&format!("{base}/_admin/entities"), t, entity(fields))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = s.post(&format!("{base}/item"), t, json!({})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rec = r.data();
    assert_eq!(rec["label"], "new");
    assert_eq!(rec["qty"], 7);
    assert_eq!(rec["big"], 9_000_000_000i64);
    assert_eq!(rec["price"].as_f64(), Some(1.5), "{rec}");
    assert_eq!(rec["active"], false);
    assert_eq!(rec["ref"], "6f1c0a3e-8b2d-4c1e-9f00-0123456789ab");
    assert_eq!(rec["day"], "2024-05-01");
    assert_eq!(rec["kind"], "toy");
    assert_eq!(rec["meta"], json!({"tags": ["a"]}), "{rec}");
}
