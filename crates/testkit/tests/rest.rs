//! Dynamic REST over HTTP on both stores: entity admin, CRUD, the query
//! language, includes of every relation kind, and migrations.

use rocket_testkit::{json, store_tests, TestServer};
use serde_json::Value;

store_tests!(
    entity_admin_and_validation,
    crud_and_field_validation,
    query_operators_sort_and_pages,
    includes_of_every_kind,
    migration_keeps_data,
);

async fn app(s: &TestServer) -> (String, String) {
    let a = s.create_app().await;
    (format!("/api/{}", a.name), a.token)
}

fn product() -> Value {
    json!({"name": "product", "table": "products",
           "primary_key": {"field": "id", "type": "uuid", "generated": true}, "soft_delete": true,
           "fields": [{"name": "id", "type": "uuid", "required": true},
                      {"name": "sku", "type": "string", "required": true, "unique": true},
                      {"name": "kind", "type": "string", "enum": ["tool", "toy"]},
                      {"name": "price", "type": "decimal", "precision": 2},
                      {"name": "qty", "type": "int", "default": 0},
                      {"name": "active", "type": "boolean", "default": true},
                      {"name": "made_on", "type": "date"},
                      {"name": "seen_at", "type": "timestamp"},
                      {"name": "ref", "type": "uuid"},
                      {"name": "extra", "type": "json"},
                      {"name": "created_at", "type": "timestamp", "auto": "create"},
                      {"name": "updated_at", "type": "timestamp", "auto": "update"}]})
}

async fn entity_admin_and_validation(s: &TestServer) {
    let (base, t) = app(s).await;
    let t = Some(t.as_str());
    let r = s.post(&format!("{base}/_admin/entities"), t, product()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let names: Vec<&str> = r.data()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[..3], ["id", "sku", "kind"], "field order kept");
    assert_eq!(r.data()["fields"][2]["enum"], json!(["tool", "toy"]));
    assert_eq!(r.data()["fields"][1]["required"], true);
    let r = s.get(&format!("{base}/_admin/entities/product"), t).await;
    for k in ["name", "table_name", "definition", "created_at", "updated_at"] {
        assert!(r.data().get(k).is_some(), "{k}");
    }
    assert_eq!(r.data()["table_name"], "products");
    assert_eq!(
        s.post(&format!("{base}/_admin/entities"), t, product())
            .await
            .code(),
        "CONFLICT"
    );
    assert_eq!(
        s.get(&format!("{base}/_admin/entities/nope"), t).await.status,
        404
    );
    let pk = json!({"field": "id", "type": "uuid", "generated": true});
    let id = json!({"name": "id", "type": "uuid"});
    for (body, msg) in [
        (
            json!({"table": "t", "primary_key": pk, "fields": [id]}),
            "entity name is required",
        ),
        (
            json!({"name": "x", "primary_key": pk, "fields": [id]}),
            "table name is required",
        ),
        (
            json!({"name": "x", "table": "t", "primary_key": pk, "fields": []}),
            "entity must have at least one field",
        ),
        (
            json!({"name": "x", "table": "t", "fields": [id]}),
            "primary key field is required",
        ),
        (
            json!({"name": "x", "table": "t", "primary_key": {"field": "pk"}, "fields": [id]}),
            "primary key field pk not found in fields",
        ),
        (
            json!({"name": "x", "table": "t", "primary_key": pk, "fields": [id, {"name": "a", "type": "money"}]}),
            "unknown field type",
        ),
        (
            json!({"name": "Bad-Name", "table": "t", "primary_key": pk, "fields": [id]}),
            "invalid entity name",
        ),
        (
            json!({"name": "_x", "table": "t", "primary_key": pk, "fields": [id]}),
            "reserved",
        ),
        (
            json!({"name": "auth", "table": "t", "primary_key": pk, "fields": [id]}),
            "reserved",
        ),
        (
            json!({"name": "x", "table": "t", "primary_key": pk, "fields": [id, id]}),
            "duplicate field name",
        ),
        (
            json!({"name": "x", "table": "products", "primary_key": pk, "fields": [id]}),
            "already used",
        ),
        (
            json!({"name": "x", "table": "t", "primary_key": pk, "slug": {"field": "s"}, "fields": [id]}),
            "slug field \"s\" not found in fields",
        ),
        (
            json!({"name": "x", "table": "t", "primary_key": pk, "slug": {"field": "s"}, "fields": [id, {"name": "s", "type": "string"}]}),
            "slug field \"s\" must have unique: true",
        ),
    ] {
        let r = s.post(&format!("{base}/_admin/entities"), t, body.clone()).await;
        assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{body}");
        assert!(r.message().contains(msg), "{body}: {}", r.message());
    }
    let r = s.get(&format!("{base}/_admin/entities"), t).await;
    assert_eq!(r.data().as_array().unwrap().len(), 1, "nothing written on 422");
    // Changing the type of an existing column is refused.
    let mut changed = product();
    changed["fields"][4]["type"] = json!("string");
    let r = s
        .put(&format!("{base}/_admin/entities/product"), t, changed)
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    // Relations admin.
    let r = s
        .post(&format!("{base}/_admin/entities"), t, json!({"name": "review", "table": "reviews",
            "primary_key": {"field": "id", "type": "int", "generated": true},
            "fields": [{"name": "id", "type": "int"}, {"name": "product_id", "type": "uuid"}, {"name": "stars", "type": "int"}]}))
        .await;
    assert_eq!(r.status, 201);
    let rel = json!({"name": "reviews", "type": "one_to_many", "source": "product", "target": "review", "target_key": "product_id"});
    let r = s.post(&format!("{base}/_admin/relations"), t, rel.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["source_key"], "id");
    assert_eq!(
        s.post(&format!("{base}/_admin/relations"), t, rel).await.code(),
        "CONFLICT"
    );
    for (body, msg) in [
        (
            json!({"name": "r", "type": "one_to_many", "source": "ghost", "target": "review", "target_key": "x"}),
            "source entity not found: ghost",
        ),
        (
            json!({"name": "r", "type": "one_to_many", "source": "product", "target": "ghost"}),
            "target entity not found: ghost",
        ),
        (
            json!({"name": "r", "type": "many", "source": "product", "target": "review"}),
            "invalid relation type: many",
        ),
        (
            json!({"name": "r", "type": "many_to_many", "source": "product", "target": "review"}),
            "join_table is required for many_to_many relations",
        ),
        (
            json!({"name": "r", "type": "one_to_many", "source": "product", "target": "review", "target_key": "product_id", "on_delete": "explode"}),
            "invalid on_delete",
        ),
    ] {
        let r = s.post(&format!("{base}/_admin/relations"), t, body.clone()).await;
        assert_eq!(r.status, 422, "{body}");
        assert!(r.message().contains(msg), "{body}: {}", r.message());
    }
    let r = s.get(&format!("{base}/_admin/relations/reviews"), t).await;
    assert_eq!(r.data()["source"], "product");
    // Deleting an entity removes its relations; the table and data stay.
    let r = s.delete(&format!("{base}/_admin/entities/review"), t).await;
    assert_eq!(r.body, json!({"data": {"name": "review", "deleted": true}}));
    assert_eq!(
        s.get(&format!("{base}/_admin/relations/reviews"), t).await.status,
        404
    );
}

async fn crud_and_field_validation(s: &TestServer) {
    let (base, t) = app(s).await;
    let t = Some(t.as_str());
    assert_eq!(
        s.post(&format!("{base}/_admin/entities"), t, product())
            .await
            .status,
        201
    );
    let p = format!("{base}/product");
    let r = s
        .post(
            &p,
            t,
            json!({"sku": "A-1", "kind": "tool", "price": 9.99, "made_on": "2026-03-01",
                            "seen_at": "2026-03-01T10:00:00+02:00", "extra": {"a": [1, 2]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rec = r.data().clone();
    let id = rec["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(rec["qty"], 0, "default applied");
    assert_eq!(rec["active"], true, "booleans are JSON booleans");
    assert_eq!(rec["price"].as_f64(), Some(9.99));
    assert_eq!(rec["made_on"], "2026-03-01");
    assert!(
        rec["seen_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-01T08:00:00"),
        "UTC: {}",
        rec["seen_at"]
    );
    assert_eq!(rec["extra"], json!({"a": [1, 2]}));
    assert_eq!(rec["deleted_at"], Value::Null);
    assert!(chrono::DateTime::parse_from_rfc3339(rec["created_at"].as_str().unwrap()).is_ok());
    // Get, 404s.
    assert_eq!(s.get(&format!("{p}/{id}"), t).await.data()["sku"], "A-1");
    let missing = "00000000-0000-4000-8000-000000000000";
    let r = s.get(&format!("{p}/{missing}"), t).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (
            404,
            "NOT_FOUND",
            format!("product with id {missing} not found").as_str()
        )
    );
    assert_eq!(s.get(&format!("{p}/not-a-uuid"), t).await.status, 404);
    let r = s.get(&format!("{base}/ghost"), t).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (404, "UNKNOWN_ENTITY", "Unknown entity: ghost")
    );
    // Partial update keeps other fields, bumps auto:update.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let r = s.put(&format!("{p}/{id}"), t, json!({"qty": 5})).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.data()["qty"].clone(), r.data()["sku"].clone()),
        (json!(5), json!("A-1"))
    );
    assert_ne!(r.data()["updated_at"], rec["updated_at"]);
    assert_eq!(r.data()["created_at"], rec["created_at"]);
    // Conflicts and validation.
    let r = s.post(&p, t, json!({"sku": "A-1"})).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (409, "CONFLICT", "A record with this value already exists")
    );
    let r = s.post(&p, t, json!({})).await;
    assert_eq!(
        r.body["error"]["details"],
        json!([{"field": "sku", "rule": "required", "message": "sku is required"}])
    );
    let r = s.post(&p, t, json!({"sku": "B", "kind": "car"})).await;
    assert_eq!(
        r.body["error"]["details"][0],
        json!({"field": "kind", "rule": "enum", "message": "kind must be one of: tool, toy"})
    );
    for (field, bad) in [
        ("qty", json!("many")),
        ("ref", json!("nope")),
        ("seen_at", json!("yesterday")),
        ("active", json!("maybe")),
    ] {
        let r = s.post(&p, t, json!({"sku": "C", field: bad})).await;
        assert_eq!(
            (r.status, r.body["error"]["details"][0]["rule"].as_str()),
            (422, Some("type")),
            "{field}"
        );
        assert_eq!(r.body["error"]["details"][0]["field"], field);
    }
    let r = s.post(&p, t, json!({"sku": "D", "bogus": 1})).await;
    assert_eq!(
        r.body["error"]["details"][0],
        json!({"field": "bogus", "rule": "unknown", "message": "Unknown field or relation: bogus"})
    );
    let r = s.put(&format!("{p}/{id}"), t, json!({"sku": null})).await;
    assert_eq!(
        (r.status, r.body["error"]["details"][0]["rule"].as_str()),
        (422, Some("required"))
    );
    let r = s.call_raw(rocket_testkit::Method::POST, &p, t, "{oops").await;
    assert_eq!((r.status, r.code()), (400, "INVALID_PAYLOAD"));
    // Soft delete hides the row; a second delete is 404.
    let r = s.delete(&format!("{p}/{id}"), t).await;
    assert_eq!(r.body, json!({"data": {"id": id}}));
    assert_eq!(s.get(&format!("{p}/{id}"), t).await.status, 404);
    assert_eq!(s.get(&p, t).await.body["meta"]["total"], 0);
    assert_eq!(s.delete(&format!("{p}/{id}"), t).await.status, 404);
    // The sku of a soft-deleted row is still taken (the unique index covers it).
    assert_eq!(s.post(&p, t, json!({"sku": "A-1"})).await.status, 409);
}

async fn seed_products(s: &TestServer, base: &str, t: Option<&str>) {
    assert_eq!(
        s.post(&format!("{base}/_admin/entities"), t, product())
            .await
            .status,
        201
    );
    for (i, (kind, price, active)) in [
        ("tool", 5.0, true),
        ("toy", 15.0, false),
        ("tool", 25.0, true),
        ("toy", 35.0, true),
        ("tool", 45.0, false),
    ]
    .iter()
    .enumerate()
    {
        let r = s
            .post(
                &format!("{base}/product"),
                t,
                json!({"sku": format!("S-{i}"), "kind": kind, "price": price,
                "qty": i as i64 * 10, "active": active, "seen_at": format!("2026-03-0{}T00:00:00Z", i + 1)}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
}

fn skus(r: &rocket_testkit::Resp) -> Vec<String> {
    r.data()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["sku"].as_str().unwrap().to_string())
        .collect()
}

async fn query_operators_sort_and_pages(s: &TestServer) {
    let (base, t) = app(s).await;
    let t = Some(t.as_str());
    seed_products(s, &base, t).await;
    let q = |qs: &str| format!("{base}/product?{qs}&sort=sku");
    for (qs, want) in [
        ("filter[kind]=toy", vec!["S-1", "S-3"]),
        ("filter[kind.eq]=toy", vec!["S-1", "S-3"]),
        ("filter[kind.neq]=toy", vec!["S-0", "S-2", "S-4"]),
        ("filter[price.gt]=25", vec!["S-3", "S-4"]),
        ("filter[price.gte]=25", vec!["S-2", "S-3", "S-4"]),
        ("filter[qty.lt]=20", vec!["S-0", "S-1"]),
        ("filter[qty.lte]=20", vec!["S-0", "S-1", "S-2"]),
        ("filter[sku.in]=S-1, S-4,zz", vec!["S-1", "S-4"]),
        ("filter[sku.not_in]=S-1,S-4", vec!["S-0", "S-2", "S-3"]),
        ("filter[sku.like]=S-%25", vec!["S-0", "S-1", "S-2", "S-3", "S-4"]),
        ("filter[sku.like]=s-%25", vec![]),
        ("filter[active]=false", vec!["S-1", "S-4"]),
        ("filter[active]=1&filter[kind]=tool", vec!["S-0", "S-2"]),
        ("filter[seen_at.gte]=2026-03-04T00:00:00Z", vec!["S-3", "S-4"]),
        ("filter[kind.in]=", vec![]),
    ] {
        let r = s.get(&q(qs), t).await;
        assert_eq!(r.status, 200, "{qs}: {:?}", r.body);
        assert_eq!(skus(&r), want, "{qs}");
        assert_eq!(
            r.body["meta"]["total"],
            want.len(),
            "{qs}: total counts only matches"
        );
    }
    let id = s.get(&q("filter[sku]=S-2"), t).await.data()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        skus(&s.get(&q(&format!("filter[id]={id}")), t).await),
        vec!["S-2"]
    );
    // Errors.
    for (qs, code) in [
        ("filter[nope]=1", "UNKNOWN_FIELD"),
        ("sort=nope", "UNKNOWN_FIELD"),
        ("include=nope", "UNKNOWN_FIELD"),
        ("filter[qty.between]=1", "INVALID_PAYLOAD"),
        ("filter[qty]=abc", "INVALID_PAYLOAD"),
        ("filter[price.gt]=x", "INVALID_PAYLOAD"),
        ("filter[active]=maybe", "INVALID_PAYLOAD"),
        ("filter[ref]=not-a-uuid", "INVALID_PAYLOAD"),
    ] {
        let r = s.get(&format!("{base}/product?{qs}"), t).await;
        assert_eq!((r.status, r.code()), (400, code), "{qs}");
    }
    // Sorting by several fields with direction.
    let r = s.get(&format!("{base}/product?sort=kind,-price"), t).await;
    assert_eq!(skus(&r), vec!["S-4", "S-2", "S-0", "S-3", "S-1"]);
    // Pagination.
    let r = s
        .get(&format!("{base}/product?sort=sku&page=2&per_page=2"), t)
        .await;
    assert_eq!(
        (skus(&r), r.body["meta"].clone()),
        (
            vec!["S-2".into(), "S-3".into()],
            json!({"page": 2, "per_page": 2, "total": 5})
        )
    );
    let r = s.get(&format!("{base}/product?page=9&per_page=2"), t).await;
    assert_eq!(
        (r.data().clone(), r.body["meta"]["total"].clone()),
        (json!([]), json!(5))
    );
    let r = s.get(&format!("{base}/product?per_page=1000"), t).await;
    assert_eq!(r.body["meta"]["per_page"], 100);
    let r = s.get(&format!("{base}/product?page=x&per_page=-3"), t).await;
    assert_eq!(
        (r.body["meta"]["page"].clone(), r.body["meta"]["per_page"].clone()),
        (json!(1), json!(25))
    );
}

async fn includes_of_every_kind(s: &TestServer) {
    let (base, t) = app(s).await;
    let t = Some(t.as_str());
    let ent = |name: &str, table: &str, extra: Vec<Value>, soft: bool| {
        let mut fields = vec![
            json!({"name": "id", "type": "uuid"}),
            json!({"name": "name", "type": "string"}),
        ];
        fields.extend(extra);
        json!({"name": name, "table": table, "soft_delete": soft,
               "primary_key": {"field": "id", "type": "uuid", "generated": true}, "fields": fields})
    };
    for e in [
        ent("author", "authors", vec![], false),
        ent(
            "profile",
            "profiles",
            vec![json!({"name": "author_id", "type": "uuid"})],
            false,
        ),
        ent(
            "book",
            "books",
            vec![json!({"name": "author_id", "type": "uuid"})],
            true,
        ),
        ent("tag", "tags", vec![], false),
    ] {
        assert_eq!(s.post(&format!("{base}/_admin/entities"), t, e).await.status, 201);
    }
    for r in [
        json!({"name": "books", "type": "one_to_many", "source": "author", "target": "book", "target_key": "author_id"}),
        json!({"name": "profile", "type": "one_to_one", "source": "author", "target": "profile", "target_key": "author_id"}),
        json!({"name": "book_tags", "type": "many_to_many", "source": "book", "target": "tag", "join_table": "book_tag_links",
               "source_join_key": "book_id", "target_join_key": "tag_id"}),
    ] {
        let res = s.post(&format!("{base}/_admin/relations"), t, r).await;
        assert_eq!(res.status, 201, "{:?}", res.body);
    }
    let post = |e: &str, b: Value| {
        let path = format!("{base}/{e}");
        async move {
            s.post(&path, t, b).await.data()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let ann = post("author", json!({"name": "Ann"})).await;
    let bob = post("author", json!({"name": "Bob"})).await;
    post("profile", json!({"name": "ann-profile", "author_id": ann})).await;
    let red = post("tag", json!({"name": "red"})).await;
    let blue = post("tag", json!({"name": "blue"})).await;
    // Nested write links the many-to-many (and creates the books).
    let b1 = s
        .post(
            &format!("{base}/book"),
            t,
            json!({"name": "b1", "author_id": ann, "book_tags": {"data": [{"id": red}, {"id": blue}]}}),
        )
        .await;
    assert_eq!(b1.status, 201, "{:?}", b1.body);
    let b1 = b1.data()["id"].as_str().unwrap().to_string();
    let b2 = post("book", json!({"name": "b2", "author_id": ann})).await;
    // A soft-deleted child never shows up.
    assert_eq!(s.delete(&format!("{base}/book/{b2}"), t).await.status, 200);

    let r = s
        .get(&format!("{base}/author?sort=name&include=books,profile"), t)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ann_row = &r.data()[0];
    assert_eq!(ann_row["books"].as_array().unwrap().len(), 1);
    assert_eq!(ann_row["books"][0]["name"], "b1");
    assert!(
        ann_row["books"][0].get("deleted_at").is_none(),
        "included rows carry declared fields only"
    );
    assert_eq!(ann_row["profile"]["name"], "ann-profile");
    assert_eq!(r.data()[1]["books"], json!([]), "no children → []");
    assert_eq!(r.data()[1]["profile"], Value::Null);
    // Reverse include and many-to-many forward and reverse.
    let r = s
        .get(&format!("{base}/book/{b1}?include=books,book_tags,nonsense"), t)
        .await;
    assert_eq!(r.status, 200, "unknown include tokens are ignored on get");
    assert_eq!(
        r.data()["books"]["name"],
        "Ann",
        "reverse one_to_many include is the parent"
    );
    let mut tags: Vec<&str> = r.data()["book_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, vec!["blue", "red"]);
    let r = s.get(&format!("{base}/tag/{red}?include=book_tags"), t).await;
    assert_eq!(r.data()["book_tags"][0]["name"], "b1");
    let _ = bob;
}

async fn migration_keeps_data(s: &TestServer) {
    let (base, t) = app(s).await;
    let t = Some(t.as_str());
    assert_eq!(
        s.post(&format!("{base}/_admin/entities"), t, product())
            .await
            .status,
        201
    );
    let id = s
        .post(&format!("{base}/product"), t, json!({"sku": "KEEP", "qty": 7}))
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Add a field (required with a default), remove another.
    let mut next = product();
    let fields = next["fields"].as_array_mut().unwrap();
    fields.retain(|f| f["name"] != "kind");
    fields.push(json!({"name": "color", "type": "string", "default": "blue", "required": true}));
    fields.push(json!({"name": "weight", "type": "float", "indexed": true}));
    let r = s
        .put(&format!("{base}/_admin/entities/product"), t, next.clone())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.get(&format!("{base}/product/{id}"), t).await;
    assert_eq!(
        (r.data()["sku"].clone(), r.data()["qty"].clone()),
        (json!("KEEP"), json!(7)),
        "old data preserved"
    );
    assert!(r.data().get("kind").is_none(), "removed field hidden");
    assert_eq!(r.data()["color"], "blue");
    let r = s
        .post(
            &format!("{base}/product"),
            t,
            json!({"sku": "NEW", "weight": 1.5}),
        )
        .await;
    assert_eq!((r.status, r.data()["color"].clone()), (201, json!("blue")));
    // Re-adding the field finds the old data again.
    next["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "kind", "type": "string"}));
    assert_eq!(
        s.put(&format!("{base}/_admin/entities/product"), t, next)
            .await
            .status,
        200
    );
    let r = s
        .post(
            &format!("{base}/product"),
            t,
            json!({"sku": "K", "kind": "whatever"}),
        )
        .await;
    assert_eq!(r.status, 201);
}
