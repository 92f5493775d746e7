//! Export/import: a document of our own shaped like the reference examples
//! (entities, relations incl. many-to-many, rules with JS spellings, a state
//! machine, workflow, permissions, webhooks, UI configs, sample data).

use rocket_testkit::{json, store_tests, TestServer};
use serde_json::Value;

fn library() -> Value {
    json!({
        "version": 1,
        "exported_at": "2026-01-01T00:00:00Z",
        "entities": [
            {"name": "author", "table": "authors", "primary_key": {"field": "id", "type": "uuid", "generated": true},
             "fields": [{"name": "id", "type": "uuid"}, {"name": "name", "type": "string", "required": true},
                        {"name": "created_at", "type": "timestamp", "auto": "create"}]},
            {"name": "book", "table": "books", "primary_key": {"field": "id", "type": "uuid", "generated": true},
             "soft_delete": true, "slug": {"field": "slug", "source": "title"},
             "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string", "required": true},
                        {"name": "slug", "type": "string", "unique": true}, {"name": "pages", "type": "int"},
                        {"name": "status", "type": "string", "default": "draft"},
                        {"name": "author_id", "type": "uuid"}, {"name": "published_on", "type": "date"}]},
            {"name": "genre", "table": "genres", "primary_key": {"field": "id", "type": "int", "generated": true},
             "fields": [{"name": "id", "type": "int"}, {"name": "label", "type": "string"}]}
        ],
        "relations": [
            {"name": "author_books", "type": "one_to_many", "source": "author", "target": "book",
             "source_key": "id", "target_key": "author_id", "on_delete": "restrict"},
            {"name": "book_genres", "type": "many_to_many", "source": "book", "target": "genre", "source_key": "id",
             "join_table": "book_genre_links", "source_join_key": "book_id", "target_join_key": "genre_id", "on_delete": "detach"}
        ],
        "rules": [
            {"entity": "book", "hook": "before_write", "type": "field",
             "definition": {"field": "pages", "operator": "min", "value": 1}, "priority": 0, "active": true},
            {"entity": "book", "hook": "before_write", "type": "expression",
             "definition": {"expression": "record.status === 'published' && record.published_on == null",
                            "message": "published books need a date"}, "priority": 1, "active": true}
        ],
        "state_machines": [{"entity": "book", "field": "status", "active": true,
            "definition": {"initial": "draft", "transitions": [{"from": "draft", "to": "published"}]}}],
        "workflows": [{"name": "review", "active": true,
            "trigger": {"type": "state_change", "entity": "book", "field": "status", "to": "published"},
            "context": {"record_id": "trigger.record_id"},
            "steps": [{"id": "approve", "type": "approval", "timeout": "48h", "on_approve": "end", "on_reject": "end"}]}],
        "permissions": [{"entity": "book", "action": "read", "roles": ["reader"], "conditions": []},
                        {"entity": "book", "action": "update", "roles": ["editor"],
                         "conditions": [{"field": "status", "operator": "eq", "value": "draft"}]}],
        "webhooks": [{"entity": "book", "hook": "after_write", "url": "https://hooks.example.net/books",
                      "condition": "record.status === 'published'"}],
        "ui_configs": [{"entity": "book", "config": {"list": {"columns": ["title", "status"]}}},
                       {"entity": "_app", "scope": "default", "config": {"dashboard": {"title": "Library"}}}],
        "sample_data": {
            "author": [{"id": "a0000000-0000-0000-0000-000000000001", "name": "Ursula"}],
            "book": [{"id": "b0000000-0000-0000-0000-000000000001", "title": "The Dispossessed", "slug": "the-dispossessed",
                      "pages": 387.0, "author_id": "a0000000-0000-0000-0000-000000000001", "status": "draft"}],
            "genre": [{"id": 1, "label": "science fiction"}],
            "book_genre_links": [{"book_id": "b0000000-0000-0000-0000-000000000001", "genre_id": 1}],
            "unknown_key": [{"x": 1}]
        }
    })
}

store_tests!(
    import_export_roundtrip,
    import_validation_and_errors,
    ui_config_uniqueness
);

async fn import_export_roundtrip(s: &TestServer) {
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    let base = format!("/api/{}", app.name);
    let r = s.post(&format!("{base}/_admin/import"), t, library()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["message"], "Import completed");
    assert_eq!(
        r.data()["summary"],
        json!({"entities": 3, "relations": 2, "rules": 2, "state_machines": 1, "workflows": 1,
               "permissions": 2, "webhooks": 1, "ui_configs": 2, "records": 4})
    );
    assert!(r.data().get("errors").is_none(), "{:?}", r.data()["errors"]);
    // Sample records are readable, with relations.
    let r = s
        .get(
            &format!("{base}/book/the-dispossessed?include=book_genres,author"),
            t,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["pages"], 387);
    assert_eq!(r.data()["book_genres"][0]["label"], "science fiction");
    assert_eq!(r.data()["author"]["name"], "Ursula");
    // The imported rule runs.
    let r = s
        .post(&format!("{base}/book"), t, json!({"title": "x", "pages": 0}))
        .await;
    assert_eq!(r.status, 422);

    // Re-import is a no-op for metadata and reports what it skipped.
    let r = s.post(&format!("{base}/_admin/import"), t, library()).await;
    assert_eq!(r.status, 200);
    let sum = &r.data()["summary"];
    for k in [
        "entities",
        "relations",
        "rules",
        "state_machines",
        "workflows",
        "permissions",
        "webhooks",
    ] {
        assert_eq!(sum[k], 0, "{k} re-imported: {:?}", r.data());
    }
    assert_eq!(
        r.data()["skipped"]["entities"],
        json!(["author", "book", "genre"])
    );
    let books = s.get(&format!("{base}/book"), t).await;
    assert_eq!(books.body["meta"]["total"], 1, "sample rows conflict away");

    // Export → import into a fresh app reproduces the same export.
    let first = s.get(&format!("{base}/_admin/export"), t).await.data().clone();
    assert_eq!(first["version"], 1);
    assert!(first.get("sample_data").is_none());
    let other = s.create_app().await;
    let ot = Some(other.token.as_str());
    let r = s
        .post(&format!("/api/{}/_admin/import", other.name), ot, first.clone())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.data().get("errors").is_none(), "{:?}", r.data()["errors"]);
    let second = s
        .get(&format!("/api/{}/_admin/export", other.name), ot)
        .await
        .data()
        .clone();
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("exported_at");
        v
    };
    assert_eq!(strip(first), strip(second));
}

async fn import_validation_and_errors(s: &TestServer) {
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    let base = format!("/api/{}", app.name);
    let r = s
        .post(&format!("{base}/_admin/import"), t, json!({"entities": []}))
        .await;
    assert_eq!((r.status, r.message()), (422, "Unsupported export version: 0"));
    let r = s
        .post(&format!("{base}/_admin/import"), t, json!({"version": 2}))
        .await;
    assert_eq!((r.status, r.message()), (422, "Unsupported export version: 2"));
    // Bad items are reported and skipped; good ones land.
    let doc = json!({"version": 1,
        "entities": [
            {"name": "good", "table": "goods", "primary_key": {"field": "id", "type": "uuid", "generated": true},
             "fields": [{"name": "id", "type": "uuid"}]},
            {"name": "bad", "table": "bads", "primary_key": {"field": "nope", "type": "uuid"}, "fields": [{"name": "id", "type": "uuid"}]},
            {"name": "untabled"}
        ],
        "rules": [{"entity": "good", "hook": "before_write", "type": "expression", "definition": {"expression": "(("}}],
        "relations": [{"name": "r", "type": "one_to_many", "source": "good", "target": "missing", "target_key": "x"}]});
    let r = s.post(&format!("{base}/_admin/import"), t, doc).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["summary"]["entities"], 1);
    let errors: Vec<String> = serde_json::from_value(r.data()["errors"].clone()).unwrap();
    assert!(errors.iter().any(|e| e.starts_with("Entity bad:")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("Relation r:")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("Rule (good/before_write):")),
        "{errors:?}"
    );
    let ents = s.get(&format!("{base}/_admin/entities"), t).await;
    assert_eq!(ents.data().as_array().unwrap().len(), 1);
    // A document with only UI configs (the frontend examples' shape).
    let r = s
        .post(
            &format!("{base}/_admin/import"),
            t,
            json!({"version": 1, "ui_configs": [{"entity": "_app", "config": {"a": 1}}]}),
        )
        .await;
    assert_eq!(r.data()["summary"]["ui_configs"], 1);
    // Nested values as JSON-encoded strings are accepted.
    let r = s
        .post(&format!("{base}/_admin/import"), t, json!({"version": 1, "entities": [json!({"name": "s", "table": "ss",
            "primary_key": {"field": "id", "type": "uuid", "generated": true}, "fields": [{"name": "id", "type": "uuid"}]}).to_string()]}))
        .await;
    assert_eq!(r.data()["summary"]["entities"], 1, "{:?}", r.body);
}

async fn ui_config_uniqueness(s: &TestServer) {
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    let base = format!("/api/{}", app.name);
    let r = s
        .post(
            &format!("{base}/_admin/ui-configs"),
            t,
            json!({"entity": "_app", "config": {"x": 1}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["scope"], "default");
    let id = r.data()["id"].as_str().unwrap().to_string();
    let r = s
        .post(&format!("{base}/_admin/ui-configs"), t, json!({"entity": "_app"}))
        .await;
    assert_eq!(
        (r.status, r.message()),
        (409, "UI config already exists for entity _app scope default")
    );
    let r = s
        .post(
            &format!("{base}/_admin/ui-configs"),
            t,
            json!({"entity": "_app", "scope": "mobile"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .post(
            &format!("{base}/_admin/ui-configs"),
            t,
            json!({"entity": "ghost"}),
        )
        .await;
    assert_eq!((r.status, r.message()), (422, "entity not found: ghost"));
    let r = s.post(&format!("{base}/_admin/ui-configs"), t, json!({})).await;
    assert_eq!((r.status, r.message()), (422, "entity is required"));
    // Non-admin reads: default scope only; unknown entity → data null.
    let r = s.get(&format!("{base}/_ui/configs"), t).await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);
    let r = s.get(&format!("{base}/_ui/config/_app"), t).await;
    assert_eq!(r.data()["config"], json!({"x": 1}));
    let r = s.get(&format!("{base}/_ui/config/nothing"), t).await;
    assert_eq!((r.status, r.data().clone()), (200, Value::Null));
    let r = s
        .put(
            &format!("{base}/_admin/ui-configs/{id}"),
            t,
            json!({"entity": "_app", "config": {"x": 2}}),
        )
        .await;
    assert_eq!(r.data()["config"], json!({"x": 2}));
    let r = s.delete(&format!("{base}/_admin/ui-configs/{id}"), t).await;
    assert_eq!(r.body, json!({"data": {"id": id, "deleted": true}}));
}
