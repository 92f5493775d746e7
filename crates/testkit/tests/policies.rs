//! Access control on both stores: whitelist policies, row-level reads,
//! write conditions, nested writes, users, invites.

use rocket_testkit::{json, store_tests, TestServer};
use serde_json::Value;

store_tests!(
    whitelist_and_rows,
    write_conditions_and_nesting,
    users_admin,
    invites
);

struct Ctx {
    base: String,
    admin: String,
}

async fn setup(s: &TestServer) -> Ctx {
    let a = s.create_app().await;
    let base = format!("/api/{}", a.name);
    let t = Some(a.token.as_str());
    for e in [
        json!({"name": "post", "table": "posts", "primary_key": {"field": "id", "type": "uuid", "generated": true},
               "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string"},
                          {"name": "department", "type": "string"}, {"name": "status", "type": "string"},
                          {"name": "score", "type": "int"}, {"name": "owner_id", "type": "string"}]}),
        json!({"name": "comment", "table": "comments", "primary_key": {"field": "id", "type": "uuid", "generated": true},
               "fields": [{"name": "id", "type": "uuid"}, {"name": "post_id", "type": "uuid"}, {"name": "body", "type": "string"},
                          {"name": "flagged", "type": "boolean"}]}),
    ] {
        assert_eq!(s.post(&format!("{base}/_admin/entities"), t, e).await.status, 201);
    }
    let r = s
        .post(
            &format!("{base}/_admin/relations"),
            t,
            json!({"name": "comments", "type": "one_to_many", "source": "post",
            "target": "comment", "target_key": "post_id"}),
        )
        .await;
    assert_eq!(r.status, 201);
    Ctx { base, admin: a.token }
}

async fn login_as(s: &TestServer, c: &Ctx, email: &str, roles: &[&str]) -> (String, String) {
    let r = s
        .post(
            &format!("{}/_admin/users", c.base),
            Some(&c.admin),
            json!({"email": email, "password": "pw-secret", "roles": roles}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let r = s
        .post(
            &format!("{}/auth/login", c.base),
            None,
            json!({"email": email, "password": "pw-secret"}),
        )
        .await;
    (r.data()["access_token"].as_str().unwrap().to_string(), id)
}

async fn policy(s: &TestServer, c: &Ctx, body: Value) {
    let r = s
        .post(&format!("{}/_admin/permissions", c.base), Some(&c.admin), body)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

fn titles(r: &rocket_testkit::Resp) -> Vec<String> {
    let mut v: Vec<String> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn whitelist_and_rows(s: &TestServer) {
    let c = setup(s).await;
    let a = Some(c.admin.as_str());
    let mut ids = Vec::new();
    for (title, dept, status, score) in [
        ("s-draft", "sales", "draft", 1),
        ("s-pub", "sales", "published", 5),
        ("o-draft", "ops", "draft", 9),
    ] {
        let r = s
            .post(
                &format!("{}/post", c.base),
                a,
                json!({"title": title, "department": dept, "status": status, "score": score}),
            )
            .await;
        ids.push(r.data()["id"].as_str().unwrap().to_string());
    }
    s.post(
        &format!("{}/comment", c.base),
        a,
        json!({"post_id": ids[0], "body": "ok", "flagged": false}),
    )
    .await;
    s.post(
        &format!("{}/comment", c.base),
        a,
        json!({"post_id": ids[0], "body": "bad", "flagged": true}),
    )
    .await;

    // No policy at all: 403 on list and create.
    let (nobody, _) = login_as(s, &c, "nobody@x.org", &["nobody"]).await;
    let r = s.get(&format!("{}/post", c.base), Some(&nobody)).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (403, "FORBIDDEN", "No permission for read on post")
    );
    assert_eq!(
        s.post(&format!("{}/post", c.base), Some(&nobody), json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        s.get(&format!("{}/_admin/entities", c.base), Some(&nobody))
            .await
            .message(),
        "Admin access required"
    );

    // Viewer: read (row filter) + create; 403 on update/delete.
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "read", "roles": ["viewer"],
                         "conditions": [{"field": "department", "operator": "eq", "value": "sales"}]}),
    )
    .await;
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "create", "roles": ["Viewer"]}),
    )
    .await;
    policy(
        s,
        &c,
        json!({"entity": "comment", "action": "read", "roles": ["viewer"],
                         "conditions": [{"field": "flagged", "operator": "eq", "value": false}]}),
    )
    .await;
    let (viewer, _) = login_as(s, &c, "v@x.org", &["viewer"]).await;
    let v = Some(viewer.as_str());
    let r = s.get(&format!("{}/post?include=comments", c.base), v).await;
    assert_eq!(titles(&r), vec!["s-draft", "s-pub"]);
    assert_eq!(r.body["meta"]["total"], 2, "total counts only visible rows");
    let sd = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "s-draft")
        .unwrap()
        .clone();
    assert_eq!(
        sd["comments"].as_array().unwrap().len(),
        1,
        "include filtered by the comment read policy"
    );
    assert_eq!(sd["comments"][0]["body"], "ok");
    assert_eq!(
        s.get(&format!("{}/post/{}", c.base, ids[2]), v).await.status,
        404,
        "filtered row is not leaked by id"
    );
    assert_eq!(s.get(&format!("{}/post/{}", c.base, ids[0]), v).await.status, 200);
    assert_eq!(
        s.post(&format!("{}/post", c.base), v, json!({"title": "new"}))
            .await
            .status,
        201
    );
    let r = s
        .put(&format!("{}/post/{}", c.base, ids[0]), v, json!({"title": "x"}))
        .await;
    assert_eq!((r.status, r.message()), (403, "No permission for update on post"));
    assert_eq!(
        s.delete(&format!("{}/post/{}", c.base, ids[0]), v).await.status,
        403
    );
    // Check order: a missing record is 404 before the permission check.
    let r = s
        .put(
            &format!("{}/post/00000000-0000-4000-8000-000000000000", c.base),
            v,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);

    // Two read policies for the same role combine with OR; in / gt operators.
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "read", "roles": ["viewer"],
                         "conditions": [{"field": "score", "operator": "gt", "value": 8}]}),
    )
    .await;
    assert_eq!(
        titles(&s.get(&format!("{}/post", c.base), v).await),
        vec!["new", "o-draft", "s-draft", "s-pub"]
            .into_iter()
            .filter(|t| *t != "new")
            .map(String::from)
            .collect::<Vec<_>>()
    );
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "read", "roles": ["auditor"],
                         "conditions": [{"field": "status", "operator": "in", "value": ["draft"]},
                                        {"field": "department", "operator": "not_in", "value": ["ops"]}]}),
    )
    .await;
    let (auditor, _) = login_as(s, &c, "aud@x.org", &["auditor"]).await;
    assert_eq!(
        titles(&s.get(&format!("{}/post", c.base), Some(&auditor)).await),
        vec!["s-draft"]
    );
    // Admin sees everything.
    assert_eq!(
        s.get(&format!("{}/post", c.base), a).await.body["meta"]["total"],
        4
    );
    // Forbidden related entity in an include yields [].
    let r = s
        .get(
            &format!("{}/post/{}?include=comments", c.base, ids[0]),
            Some(&auditor),
        )
        .await;
    assert_eq!(r.data()["comments"], json!([]));
}

async fn write_conditions_and_nesting(s: &TestServer) {
    let c = setup(s).await;
    let a = Some(c.admin.as_str());
    let draft = s
        .post(
            &format!("{}/post", c.base),
            a,
            json!({"title": "d", "status": "draft"}),
        )
        .await
        .data()["id"]
        .clone();
    let publ = s
        .post(
            &format!("{}/post", c.base),
            a,
            json!({"title": "p", "status": "published"}),
        )
        .await
        .data()["id"]
        .clone();
    for action in ["read", "create"] {
        policy(
            s,
            &c,
            json!({"entity": "post", "action": action, "roles": ["editor"]}),
        )
        .await;
    }
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "update", "roles": ["editor"],
                         "conditions": [{"field": "status", "operator": "eq", "value": "draft"}]}),
    )
    .await;
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "delete", "roles": ["editor"],
                         "conditions": [{"field": "status", "operator": "eq", "value": "draft"}]}),
    )
    .await;
    let (editor, editor_id) = login_as(s, &c, "ed@x.org", &["editor"]).await;
    let e = Some(editor.as_str());
    assert_eq!(
        s.put(
            &format!("{}/post/{}", c.base, draft.as_str().unwrap()),
            e,
            json!({"title": "d2"})
        )
        .await
        .status,
        200
    );
    let r = s
        .put(
            &format!("{}/post/{}", c.base, publ.as_str().unwrap()),
            e,
            json!({"title": "hacked"}),
        )
        .await;
    assert_eq!(
        (r.status, r.message()),
        (403, "Permission denied for update on post")
    );
    assert_eq!(
        s.get(&format!("{}/post/{}", c.base, publ.as_str().unwrap()), a)
            .await
            .data()["title"],
        "p"
    );
    assert_eq!(
        s.delete(&format!("{}/post/{}", c.base, publ.as_str().unwrap()), e)
            .await
            .status,
        403
    );
    assert_eq!(
        s.delete(&format!("{}/post/{}", c.base, draft.as_str().unwrap()), e)
            .await
            .status,
        200
    );

    // Nested write into a child entity the editor may not create: 403, nothing written.
    let before = s.get(&format!("{}/post", c.base), a).await.body["meta"]["total"].clone();
    let r = s
        .post(
            &format!("{}/post", c.base),
            e,
            json!({"title": "n", "comments": {"data": [{"body": "c"}]}}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"), "{:?}", r.body);
    assert_eq!(
        s.get(&format!("{}/post", c.base), a).await.body["meta"]["total"],
        before
    );
    assert_eq!(
        s.get(&format!("{}/comment", c.base), a).await.body["meta"]["total"],
        0
    );

    // Owner condition with $user.id.
    policy(
        s,
        &c,
        json!({"entity": "post", "action": "read", "roles": ["author"],
                         "conditions": [{"field": "owner_id", "operator": "eq", "value": "$user.id"}]}),
    )
    .await;
    let (author, author_id) = login_as(s, &c, "au@x.org", &["author"]).await;
    s.post(
        &format!("{}/post", c.base),
        a,
        json!({"title": "mine", "owner_id": author_id}),
    )
    .await;
    s.post(
        &format!("{}/post", c.base),
        a,
        json!({"title": "theirs", "owner_id": editor_id}),
    )
    .await;
    assert_eq!(
        titles(&s.get(&format!("{}/post", c.base), Some(&author)).await),
        vec!["mine"]
    );
}

async fn users_admin(s: &TestServer) {
    let c = setup(s).await;
    let a = Some(c.admin.as_str());
    let u = format!("{}/_admin/users", c.base);
    let r = s
        .post(
            &u,
            a,
            json!({"email": "kim@x.org", "password": "first-pw", "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.data().get("password_hash").is_none() && r.data().get("password").is_none());
    assert_eq!(r.data()["active"], true);
    let id = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.post(&u, a, json!({"email": "kim@x.org", "password": "x"}))
            .await
            .status,
        409
    );
    assert_eq!(
        s.post(&u, a, json!({"password": "x"})).await.message(),
        "email is required"
    );
    assert_eq!(
        s.post(&u, a, json!({"email": "z@x.org"})).await.message(),
        "password is required"
    );
    let list = s.get(&u, a).await;
    assert!(list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x.get("password_hash").is_none()));
    let login = |pw: &str| {
        let path = format!("{}/auth/login", c.base);
        let pw = pw.to_string();
        async move {
            s.post(&path, None, json!({"email": "kim@x.org", "password": pw}))
                .await
        }
    };
    // Update without password keeps it; with password replaces it.
    let r = s
        .put(
            &format!("{u}/{id}"),
            a,
            json!({"email": "kim@x.org", "roles": ["editor"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.data()["roles"].clone(), r.data()["active"].clone()),
        (200, json!(["editor"]), json!(true))
    );
    assert_eq!(login("first-pw").await.status, 200);
    s.put(
        &format!("{u}/{id}"),
        a,
        json!({"email": "kim@x.org", "password": "second-pw"}),
    )
    .await;
    assert_eq!(login("first-pw").await.status, 401);
    let ok = login("second-pw").await;
    assert_eq!(ok.status, 200);
    let refresh = ok.data()["refresh_token"].as_str().unwrap().to_string();
    // Disabled: cannot log in, refresh stops working.
    s.put(
        &format!("{u}/{id}"),
        a,
        json!({"email": "kim@x.org", "active": false}),
    )
    .await;
    let r = login("second-pw").await;
    assert_eq!((r.status, r.message()), (401, "Account is disabled"));
    let r = s
        .post(
            &format!("{}/auth/refresh", c.base),
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, 401);
    // Delete, then 404.
    assert_eq!(
        s.delete(&format!("{u}/{id}"), a).await.body,
        json!({"data": {"id": id, "deleted": true}})
    );
    assert_eq!(s.get(&format!("{u}/{id}"), a).await.status, 404);
    // Permissions CRUD and validation.
    let p = format!("{}/_admin/permissions", c.base);
    let r = s
        .post(&p, a, json!({"entity": "post", "action": "read", "roles": ["x"]}))
        .await;
    assert!(r.data().get("conditions").is_none(), "empty conditions omitted");
    let pid = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.get(&format!("{p}/{pid}"), a).await.data()["conditions"],
        json!([])
    );
    assert_eq!(
        s.post(&p, a, json!({"entity": "post", "action": "fly"}))
            .await
            .message(),
        "action must be read, create, update, or delete"
    );
    assert_eq!(
        s.post(&p, a, json!({"action": "read"})).await.message(),
        "entity is required"
    );
    assert_eq!(
        s.put(
            &format!("{p}/{pid}"),
            a,
            json!({"entity": "post", "action": "nope"})
        )
        .await
        .status,
        422
    );
    assert_eq!(s.delete(&format!("{p}/{pid}"), a).await.status, 200);
    assert_eq!(s.get(&format!("{p}/{pid}"), a).await.status, 404);
}

async fn invites(s: &TestServer) {
    let c = setup(s).await;
    let a = Some(c.admin.as_str());
    let i = format!("{}/_admin/invites", c.base);
    let r = s
        .post(&i, a, json!({"email": " Dana@Example.org ", "roles": ["editor"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.data()["token"].as_str().unwrap().to_string();
    assert_eq!(r.data()["email"], "dana@example.org");
    assert!(token.len() >= 32);
    let inv_id = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.post(&i, a, json!({"email": "dana@example.org"}))
            .await
            .message(),
        "A pending invite already exists for this email"
    );
    assert_eq!(
        s.post(&i, a, json!({"email": "admin@localhost"})).await.message(),
        "A user with this email already exists"
    );
    assert_eq!(s.post(&i, a, json!({})).await.message(), "email is required");
    let list = s.get(&i, a).await;
    assert_eq!(list.data()[0]["token"], Value::Null, "only a digest is stored");
    // Bulk.
    let r = s.post(&format!("{i}/bulk"), a, json!({"emails": [" Ana@Example.org", "ana@example.org", "admin@localhost"], "roles": ["viewer"]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.data()["summary"],
        json!({"total": 2, "created": 1, "skipped": 1})
    );
    assert_eq!(
        r.data()["skipped"][0],
        json!({"email": "admin@localhost", "reason": "A user with this email already exists"})
    );
    assert_eq!(
        s.post(&format!("{i}/bulk"), a, json!({"emails": []}))
            .await
            .message(),
        "emails is required and must be a non-empty array"
    );
    assert_eq!(
        s.post(&format!("{i}/bulk"), a, json!({"emails": ["a@x.org", " "]}))
            .await
            .message(),
        "emails must not contain blank entries"
    );
    // Accept.
    let acc = format!("{}/auth/accept-invite", c.base);
    assert_eq!(
        s.post(&acc, None, json!({"password": "p"})).await.message(),
        "token is required"
    );
    assert_eq!(
        s.post(&acc, None, json!({"token": token})).await.message(),
        "password is required"
    );
    assert_eq!(
        s.post(&acc, None, json!({"token": "nope", "password": "p"}))
            .await
            .status,
        404
    );
    let r = s
        .post(&acc, None, json!({"token": token, "password": "dana-pw"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["user"]["email"], "dana@example.org");
    assert_eq!(r.data()["user"]["roles"], json!(["editor"]));
    assert!(r.data()["access_token"].is_string() && r.data()["refresh_token"].is_string());
    let r = s
        .post(
            &format!("{}/auth/login", c.base),
            None,
            json!({"email": "dana@example.org", "password": "dana-pw"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .post(&acc, None, json!({"token": token, "password": "again"}))
        .await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (400, "VALIDATION_FAILED", "Invite has already been accepted")
    );
    assert_eq!(
        s.delete(&format!("{i}/{inv_id}"), a).await.body,
        json!({"data": {"id": inv_id, "deleted": true}})
    );
    assert_eq!(s.delete(&format!("{i}/{inv_id}"), a).await.status, 404);
}
