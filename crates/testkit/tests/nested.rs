//! Writes in depth on both stores: nested writes in every mode and relation
//! kind, depth > 1, rollback, limits, delete policies, slugs.

use rocket_testkit::{json, store_tests, Store, TestServer};
use serde_json::Value;

store_tests!(
    nested_modes_one_to_many,
    nested_many_to_many_and_one_to_one,
    grandchildren_and_rollback,
    delete_policies,
    slugs,
);

/// order (uuid) → line (int, soft delete) → part (uuid); order ↔ tag (m2m); order → note (1:1)
async fn shop(s: &TestServer) -> (String, String) {
    let a = s.create_app().await;
    let base = format!("/api/{}", a.name);
    let t = Some(a.token.as_str());
    let uuid_pk = json!({"field": "id", "type": "uuid", "generated": true});
    for e in [
        json!({"name": "order", "table": "orders", "primary_key": uuid_pk,
               "slug": {"field": "ref", "source": "title", "regenerate_on_update": true},
               "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string", "required": true},
                          {"name": "ref", "type": "string", "unique": true}]}),
        json!({"name": "line", "table": "lines", "soft_delete": true,
               "primary_key": {"field": "id", "type": "int", "generated": true},
               "fields": [{"name": "id", "type": "int"}, {"name": "order_id", "type": "uuid", "required": true},
                          {"name": "sku", "type": "string", "required": true, "unique": true}, {"name": "qty", "type": "int"}]}),
        json!({"name": "part", "table": "parts", "primary_key": uuid_pk,
               "fields": [{"name": "id", "type": "uuid"}, {"name": "line_id", "type": "int"},
                          {"name": "code", "type": "string", "required": true}]}),
        json!({"name": "tag", "table": "tags", "primary_key": uuid_pk,
               "fields": [{"name": "id", "type": "uuid"}, {"name": "label", "type": "string"}]}),
        json!({"name": "note", "table": "notes", "primary_key": uuid_pk,
               "fields": [{"name": "id", "type": "uuid"}, {"name": "order_id", "type": "uuid"}, {"name": "text", "type": "string"}]}),
    ] {
        let r = s.post(&format!("{base}/_admin/entities"), t, e).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    for r in [
        json!({"name": "lines", "type": "one_to_many", "source": "order", "target": "line", "target_key": "order_id", "on_delete": "cascade"}),
        json!({"name": "parts", "type": "one_to_many", "source": "line", "target": "part", "target_key": "line_id", "on_delete": "restrict"}),
        json!({"name": "tags", "type": "many_to_many", "source": "order", "target": "tag", "join_table": "order_tags",
               "source_join_key": "order_id", "target_join_key": "tag_id", "on_delete": "detach", "write_mode": "replace"}),
        json!({"name": "note", "type": "one_to_one", "source": "order", "target": "note", "target_key": "order_id", "on_delete": "set_null"}),
    ] {
        let res = s.post(&format!("{base}/_admin/relations"), t, r).await;
        assert_eq!(res.status, 201, "{:?}", res.body);
    }
    (base, a.token)
}

fn sorted_field(v: &Value, key: &str, field: &str) -> Vec<Value> {
    let mut out: Vec<Value> = v[key]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|x| x[field].clone())
        .collect();
    out.sort_by_key(|x| x.to_string());
    out
}

async fn get(s: &TestServer, t: Option<&str>, path: &str) -> Value {
    let r = s.get(path, t).await;
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    r.data().clone()
}

async fn nested_modes_one_to_many(s: &TestServer) {
    let (base, tok) = shop(s).await;
    let t = Some(tok.as_str());
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "o1", "lines": {"data": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.data().get("lines").is_none(), "children are not echoed");
    let order = r.data()["id"].as_str().unwrap().to_string();
    let o = format!("{base}/order/{order}");
    let d = get(s, t, &format!("{o}?include=lines")).await;
    assert_eq!(sorted_field(&d, "lines", "sku"), vec![json!("a"), json!("b")]);
    assert!(
        d["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["order_id"] == json!(order)),
        "parent key propagated"
    );
    let id_of = |d: &Value, sku: &str| {
        d["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["sku"] == sku)
            .unwrap()["id"]
            .clone()
    };
    let (a, b) = (id_of(&d, "a"), id_of(&d, "b"));

    // Another order's child id is ignored by diff, even with _delete.
    let other = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "o2", "lines": {"data": [{"sku": "z"}]}}),
        )
        .await;
    let z = get(
        s,
        t,
        &format!(
            "{base}/order/{}?include=lines",
            other.data()["id"].as_str().unwrap()
        ),
    )
    .await["lines"][0]["id"]
        .clone();

    // diff: insert new, update by id, _delete one, ignore foreign.
    let r = s
        .put(
            &o,
            t,
            json!({"lines": {"_write_mode": "diff", "data": [
            {"sku": "c"}, {"id": a, "qty": 10}, {"id": b, "_delete": true}, {"id": z, "_delete": true}]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let d = get(s, t, &format!("{o}?include=lines")).await;
    assert_eq!(sorted_field(&d, "lines", "sku"), vec![json!("a"), json!("c")]);
    assert_eq!(id_of(&d, "a"), a);
    assert_eq!(
        d["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["sku"] == "a")
            .unwrap()["qty"],
        10
    );
    assert_eq!(
        get(s, t, &format!("{base}/line/{z}")).await["sku"],
        "z",
        "foreign child untouched"
    );
    assert_eq!(
        s.get(&format!("{base}/line/{b}"), t).await.status,
        404,
        "deleted child gone (soft)"
    );

    // append: only inserts.
    let r = s
        .put(
            &o,
            t,
            json!({"lines": {"_write_mode": "append", "data": [{"sku": "d"}, {"id": a, "qty": 99}]}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let d = get(s, t, &format!("{o}?include=lines")).await;
    assert_eq!(
        sorted_field(&d, "lines", "sku"),
        vec![json!("a"), json!("c"), json!("d")]
    );
    assert_eq!(
        d["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["sku"] == "a")
            .unwrap()["qty"],
        10
    );

    // replace: keep mentioned (updated), insert new, delete the rest.
    let r = s
        .put(
            &o,
            t,
            json!({"lines": {"_write_mode": "replace", "data": [{"id": a, "qty": 1}, {"sku": "e"}]}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let d = get(s, t, &format!("{o}?include=lines")).await;
    assert_eq!(sorted_field(&d, "lines", "sku"), vec![json!("a"), json!("e")]);
    let all = s.get(&format!("{base}/line?filter[order_id]={order}"), t).await;
    assert_eq!(
        all.body["meta"]["total"], 2,
        "replaced rows are soft-deleted and invisible"
    );
}

async fn nested_many_to_many_and_one_to_one(s: &TestServer) {
    let (base, tok) = shop(s).await;
    let t = Some(tok.as_str());
    let tag = |l: &str| {
        let p = format!("{base}/tag");
        let l = l.to_string();
        async move { s.post(&p, t, json!({"label": l})).await.data()["id"].clone() }
    };
    let (red, green, blue) = (tag("red").await, tag("green").await, tag("blue").await);
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "m", "tags": {"data": [{"id": red}, {"id": green}, {"label": "no id: skipped"}]},
                                                "note": {"data": [{"text": "hello"}]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let o = format!("{base}/order/{}", r.data()["id"].as_str().unwrap());
    let d = get(s, t, &format!("{o}?include=tags,note")).await;
    assert_eq!(
        sorted_field(&d, "tags", "label"),
        vec![json!("green"), json!("red")]
    );
    assert_eq!(d["note"]["text"], "hello", "one_to_one include is an object");
    assert_eq!(
        s.get(&format!("{base}/tag"), t).await.body["meta"]["total"],
        3,
        "m2m never creates targets"
    );
    // replace (the relation's default write_mode).
    s.put(&o, t, json!({"tags": {"data": [{"id": blue}]}})).await;
    assert_eq!(
        sorted_field(&get(s, t, &format!("{o}?include=tags")).await, "tags", "label"),
        vec![json!("blue")]
    );
    // append ignores existing links.
    s.put(
        &o,
        t,
        json!({"tags": {"_write_mode": "append", "data": [{"id": blue}, {"id": red}]}}),
    )
    .await;
    assert_eq!(
        sorted_field(&get(s, t, &format!("{o}?include=tags")).await, "tags", "label"),
        vec![json!("blue"), json!("red")]
    );
    // diff unlinks with _delete and links the rest.
    s.put(
        &o,
        t,
        json!({"tags": {"_write_mode": "diff", "data": [{"id": blue, "_delete": true}, {"id": green}]}}),
    )
    .await;
    assert_eq!(
        sorted_field(&get(s, t, &format!("{o}?include=tags")).await, "tags", "label"),
        vec![json!("green"), json!("red")]
    );
    // detach on delete removes the links, keeps the tags; set_null clears the note's key.
    let note_id = get(s, t, &format!("{o}?include=note")).await["note"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.delete(&o, t).await.status, 200);
    assert_eq!(s.get(&format!("{base}/tag"), t).await.body["meta"]["total"], 3);
    assert_eq!(
        get(s, t, &format!("{base}/note/{note_id}")).await["order_id"],
        Value::Null
    );
    let r = s
        .get(&format!("{base}/tag/{}?include=tags", red.as_str().unwrap()), t)
        .await;
    assert_eq!(r.data()["tags"], json!([]));
}

async fn grandchildren_and_rollback(s: &TestServer) {
    let (base, tok) = shop(s).await;
    let t = Some(tok.as_str());
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "deep", "lines": {"data": [
            {"sku": "g1", "parts": {"data": [{"code": "p1"}, {"code": "p2"}]}}]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let lines = s.get(&format!("{base}/line?include=parts"), t).await;
    assert_eq!(
        sorted_field(&lines.data()[0], "parts", "code"),
        vec![json!("p1"), json!("p2")]
    );
    let line_id = lines.data()[0]["id"].clone();
    assert!(
        lines.data()[0]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["line_id"] == line_id),
        "integer key propagated"
    );

    let totals = || async {
        let mut v = Vec::new();
        for e in ["order", "line", "part"] {
            v.push(s.get(&format!("{base}/{e}"), t).await.body["meta"]["total"].clone());
        }
        v
    };
    let before = totals().await;
    // A failing grandchild: nothing is written, with the path in the details.
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "bad", "lines": {"data": [
            {"sku": "ok"}, {"sku": "x", "qty": "many", "parts": {"data": [{"code": "fine"}, {}]}}]}}),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let fields: Vec<&str> = r.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"lines[1].qty"), "{fields:?}");
    assert!(fields.contains(&"lines[1].parts[1].code"), "{fields:?}");
    assert_eq!(totals().await, before);
    // A unique violation deep inside the transaction rolls the parent back too.
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "dup", "lines": {"data": [{"sku": "new1"}, {"sku": "g1"}]}}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "CONFLICT"), "{:?}", r.body);
    assert_eq!(totals().await, before);
    let r = s.get(&format!("{base}/order?filter[title]=dup"), t).await;
    assert_eq!(r.body["meta"]["total"], 0);
}

async fn limits_case(store: Store) {
    let Some(s) = TestServer::start_with(store, |c| {
        c.writes.max_depth = 1;
        c.writes.max_operations = 4;
    })
    .await
    else {
        return;
    };
    let (base, tok) = shop(&s).await;
    let t = Some(tok.as_str());
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "d", "lines": {"data": [{"sku": "l", "parts": {"data": [{"code": "p"}]}}]}}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{:?}", r.body);
    let lines: Vec<Value> = (0..5).map(|i| json!({"sku": format!("s{i}")})).collect();
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "n", "lines": {"data": lines}}),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "PAYLOAD_TOO_LARGE"), "{:?}", r.body);
    assert_eq!(
        s.get(&format!("{base}/order"), t).await.body["meta"]["total"],
        0,
        "nothing written"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_limits_sqlite() {
    limits_case(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_limits_postgres() {
    limits_case(Store::Postgres).await;
}

async fn delete_policies(s: &TestServer) {
    let (base, tok) = shop(s).await;
    let t = Some(tok.as_str());
    let r = s
        .post(&format!("{base}/order"), t, json!({"title": "c", "lines": {"data": [{"sku": "c1", "parts": {"data": [{"code": "x"}]}}, {"sku": "c2"}]}}))
        .await;
    let o = format!("{base}/order/{}", r.data()["id"].as_str().unwrap());
    let lines = s.get(&format!("{base}/line?sort=sku"), t).await;
    let (c1, c2) = (lines.data()[0]["id"].clone(), lines.data()[1]["id"].clone());
    // restrict: the line with a part cannot be deleted; nothing changes.
    let r = s.delete(&format!("{base}/line/{c1}"), t).await;
    assert_eq!((r.status, r.code()), (409, "CONFLICT"));
    assert!(
        r.message().contains("parts") && r.message().contains("Cannot delete"),
        "{}",
        r.message()
    );
    assert_eq!(s.get(&format!("{base}/line/{c1}"), t).await.status, 200);
    assert_eq!(s.delete(&format!("{base}/line/{c2}"), t).await.status, 200);
    // cascade to a soft-delete target: children get deleted_at and vanish.
    assert_eq!(s.delete(&o, t).await.status, 200);
    assert_eq!(s.get(&format!("{base}/line/{c1}"), t).await.status, 404);
    assert_eq!(s.get(&format!("{base}/line"), t).await.body["meta"]["total"], 0);
    // The part (grandchild) is untouched: cascades are one level deep.
    assert_eq!(s.get(&format!("{base}/part"), t).await.body["meta"]["total"], 1);
}

async fn slugs(s: &TestServer) {
    let (base, tok) = shop(s).await;
    let t = Some(tok.as_str());
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "Crème brûlée: 2 ways!"}),
        )
        .await;
    assert_eq!(r.data()["ref"], "creme-brulee-2-ways");
    // 20 parallel creates with one title: 20 distinct slugs, no errors.
    let path = format!("{base}/order");
    let futs: Vec<_> = (0..20)
        .map(|_| s.post(&path, t, json!({"title": "Same Title"})))
        .collect();
    let results = futures::future::join_all(futs).await;
    let mut refs: Vec<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.data()["ref"].as_str().unwrap().to_string()
        })
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 20);
    assert!(
        refs.contains(&"same-title".to_string()) && refs.contains(&"same-title-20".to_string()),
        "{refs:?}"
    );
    // Lookup, update and delete by slug.
    let r = s.get(&format!("{base}/order/same-title-2"), t).await;
    assert_eq!(r.data()["ref"], "same-title-2");
    let r = s
        .put(
            &format!("{base}/order/same-title-3"),
            t,
            json!({"title": "Brand New"}),
        )
        .await;
    assert_eq!(r.data()["ref"], "brand-new", "regenerate_on_update");
    assert_eq!(s.delete(&format!("{base}/order/brand-new"), t).await.status, 200);
    // An explicit slug is stored as given; a duplicate is 409.
    let r = s
        .post(
            &format!("{base}/order"),
            t,
            json!({"title": "x", "ref": "My Own"}),
        )
        .await;
    assert_eq!(r.data()["ref"], "My Own");
    assert_eq!(
        s.post(
            &format!("{base}/order"),
            t,
            json!({"title": "y", "ref": "My Own"})
        )
        .await
        .status,
        409
    );
}
