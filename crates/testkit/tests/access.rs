//! Access control on both stores (semantics.md §13, §14, §17; http-api.md §8,
//! §9.7, §9.8, §9.11, §11, §13): whitelist policies and the admin bypass,
//! row-level read filters (list, count, get by id, includes), write
//! conditions on the stored row, `$user.id`, nested writes, check order,
//! users, permissions and invites admin, accept-invite.

use std::collections::BTreeSet;
use std::time::Duration;

use rocket_testkit::{json, pg_url, store_tests, Method, Resp, Store, TestServer};
use serde_json::Value;

store_tests!(
    admin_bypasses_policies,
    viewer_reads_and_creates_but_cannot_write,
    role_without_policy_is_forbidden,
    admin_routes_require_admin,
    read_filter_limits_list_count_and_get,
    includes_respect_related_read_policies,
    read_policies_combine_with_or,
    update_conditions_checked_on_stored_row,
    delete_conditions_checked_on_stored_row,
    in_not_in_and_numeric_conditions,
    owner_condition_with_user_id,
    nested_writes_check_child_permissions,
    check_order_record_before_permission,
    users_crud,
    passwords_argon2id_and_bcrypt_compat,
    disabled_user_cannot_log_in_or_refresh,
    permissions_crud_and_reload,
    invites_create_list_delete,
    invites_bulk,
    invite_accept,
    invite_expired,
);

const PW: &str = "pw-secret-1";

/// An app with `post`, `comment` (post 1:N comment, relation `comments`) and
/// `tag` (post N:M tag, relation `post_tags`), and its admin token.
struct Fx {
    name: String,
    base: String,
    admin: String,
}

impl Fx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn adm(&self) -> Option<&str> {
        Some(&self.admin)
    }
}

struct User {
    id: String,
    token: String,
    refresh: String,
}

impl User {
    fn t(&self) -> Option<&str> {
        Some(&self.token)
    }
}

async fn setup(s: &TestServer) -> Fx {
    let a = s.create_app().await;
    let fx = Fx {
        base: format!("/api/{}", a.name),
        name: a.name,
        admin: a.token,
    };
    let uuid_pk = json!({"field": "id", "type": "uuid", "generated": true});
    for e in [
        json!({"name": "post", "table": "posts", "primary_key": uuid_pk,
               "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string"},
                          {"name": "department", "type": "string"}, {"name": "status", "type": "string"},
                          {"name": "score", "type": "int"}, {"name": "owner_id", "type": "uuid"}]}),
        json!({"name": "comment", "table": "comments", "primary_key": uuid_pk,
               "fields": [{"name": "id", "type": "uuid"}, {"name": "post_id", "type": "uuid"},
                          {"name": "body", "type": "string"}, {"name": "flagged", "type": "boolean"}]}),
        json!({"name": "tag", "table": "tags", "primary_key": uuid_pk,
               "fields": [{"name": "id", "type": "uuid"}, {"name": "name", "type": "string"}]}),
    ] {
        let r = s.post(&fx.url("/_admin/entities"), fx.adm(), e).await;
        assert_eq!(r.status, 201, "entity: {:?}", r.body);
    }
    for rel in [
        json!({"name": "comments", "type": "one_to_many", "source": "post", "target": "comment",
               "source_key": "id", "target_key": "post_id"}),
        json!({"name": "post_tags", "type": "many_to_many", "source": "post", "target": "tag",
               "source_key": "id", "join_table": "post_tag_links",
               "source_join_key": "post_id", "target_join_key": "tag_id"}),
    ] {
        let r = s.post(&fx.url("/_admin/relations"), fx.adm(), rel).await;
        assert_eq!(r.status, 201, "relation: {:?}", r.body);
    }
    fx
}

async fn login(s: &TestServer, fx: &Fx, email: &str, password: &str) -> Resp {
    s.post(
        &fx.url("/auth/login"),
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

/// Creates an app user through the admin API and logs it in.
async fn user(s: &TestServer, fx: &Fx, email: &str, roles: &[&str]) -> User {
    let r = s
        .post(
            &fx.url("/_admin/users"),
            fx.adm(),
            json!({"email": email, "password": PW, "roles": roles}),
        )
        .await;
    assert_eq!(r.status, 201, "create user: {:?}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let r = login(s, fx, email, PW).await;
    assert_eq!(r.status, 200, "login {email}: {:?}", r.body);
    User {
        id,
        token: r.data()["access_token"].as_str().unwrap().to_string(),
        refresh: r.data()["refresh_token"].as_str().unwrap().to_string(),
    }
}

/// Adds a permission policy; `conditions` is omitted when null.
async fn grant(
    s: &TestServer,
    fx: &Fx,
    entity: &str,
    action: &str,
    roles: &[&str],
    conditions: Value,
) -> String {
    let mut body = json!({"entity": entity, "action": action, "roles": roles});
    if !conditions.is_null() {
        body["conditions"] = conditions;
    }
    let r = s.post(&fx.url("/_admin/permissions"), fx.adm(), body).await;
    assert_eq!(r.status, 201, "grant: {:?}", r.body);
    r.data()["id"].as_str().unwrap().to_string()
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    json!([{"field": field, "operator": op, "value": value}])
}

/// Creates a record as admin; returns its id.
async fn mk(s: &TestServer, fx: &Fx, entity: &str, body: Value) -> String {
    let r = s.post(&fx.url(&format!("/{entity}")), fx.adm(), body).await;
    assert_eq!(r.status, 201, "create {entity}: {:?}", r.body);
    r.data()["id"].as_str().unwrap().to_string()
}

async fn post(s: &TestServer, fx: &Fx, title: &str, department: &str, status: &str, score: i64) -> String {
    mk(
        s,
        fx,
        "post",
        json!({"title": title, "department": department, "status": status, "score": score}),
    )
    .await
}

/// Sorted values of `key` across the records of a list response.
fn values(r: &Resp, key: &str) -> Vec<String> {
    let list = r
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {} {:?}", r.status, r.body));
    let mut v: Vec<String> = list
        .iter()
        .map(|x| x[key].as_str().unwrap_or("<none>").to_string())
        .collect();
    v.sort();
    v
}

fn titles(r: &Resp) -> Vec<String> {
    values(r, "title")
}

fn total(r: &Resp) -> i64 {
    r.body["meta"]["total"]
        .as_i64()
        .unwrap_or_else(|| panic!("no meta.total: {} {:?}", r.status, r.body))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v:?}"))
        .keys()
        .cloned()
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn strs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn assert_err(r: &Resp, status: u16, code: &str, message: &str) {
    assert_eq!(
        (r.status, r.code(), r.message()),
        (status, code, message),
        "body: {:?}",
        r.body
    );
}

/// The record as the admin sees it.
async fn admin_get(s: &TestServer, fx: &Fx, entity: &str, id: &str) -> Resp {
    s.get(&fx.url(&format!("/{entity}/{id}")), fx.adm()).await
}

/// Runs one SQL statement directly on the app's own database (bypassing the
/// API); returns the first column of the first row, if any, as text.
async fn app_sql(s: &TestServer, fx: &Fx, sql: &str) -> Option<String> {
    let db = format!("rocket_{}", fx.name.replace('-', "_"));
    match s.store {
        Store::Sqlite => {
            let path = s.config.database.path.join(format!("{db}.db"));
            let sql = sql.to_string();
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open(&path).expect("open app db");
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                let mut stmt = conn.prepare(&sql).expect("prepare");
                let mut rows = stmt.query([]).expect("query");
                let row = rows.next().expect("row")?;
                Some(
                    row.get::<_, Option<String>>(0)
                        .expect("text column")
                        .unwrap_or_default(),
                )
            })
            .await
            .unwrap()
        }
        Store::Postgres => {
            let url = pg_url();
            let url = match url.rfind('/') {
                Some(i) if url.starts_with("postgres") && url[..i].contains('@') => {
                    format!("{}/{db}", &url[..i])
                }
                _ => format!("{url} dbname={db}"),
            };
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect app db");
            tokio::spawn(conn);
            let rows = client.query(sql, &[]).await.expect("query app db");
            rows.first()
                .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        }
    }
}

// ---------------------------------------------------------------------------
// Whitelist decisions
// ---------------------------------------------------------------------------

async fn admin_bypasses_policies(s: &TestServer) {
    let fx = setup(s).await;
    let r = s.get(&fx.url("/_admin/permissions"), fx.adm()).await;
    assert_eq!(r.data(), &json!([]), "no permission rows at all");

    // The seeded admin: full CRUD without any policy.
    let id = post(s, &fx, "a", "sales", "draft", 1).await;
    let r = s.get(&fx.url("/post"), fx.adm()).await;
    assert_eq!((r.status, total(&r)), (200, 1));
    assert_eq!(admin_get(s, &fx, "post", &id).await.data()["title"], "a");
    let r = s
        .put(&fx.url(&format!("/post/{id}")), fx.adm(), json!({"title": "b"}))
        .await;
    assert_eq!((r.status, r.data()["title"].clone()), (200, json!("b")));
    let r = s.delete(&fx.url(&format!("/post/{id}")), fx.adm()).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"data": {"id": id}})));
    assert_eq!(admin_get(s, &fx, "post", &id).await.status, 404);

    // A platform token is an admin in every app.
    let pt = s.platform_token().await;
    let r = s
        .post(&fx.url("/post"), Some(&pt), json!({"title": "from-platform"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(s.get(&fx.url("/post"), Some(&pt)).await.status, 200);

    // Any user whose roles contain exactly `admin` bypasses too.
    let boss = user(s, &fx, "boss@x.org", &["staff", "admin"]).await;
    let r = s.get(&fx.url("/post"), boss.t()).await;
    assert_eq!((r.status, total(&r)), (200, 1));
    let r = s
        .post(&fx.url("/post"), boss.t(), json!({"title": "by-boss"}))
        .await;
    assert_eq!(r.status, 201);
    let pid = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.delete(&fx.url(&format!("/post/{pid}")), boss.t()).await.status,
        200
    );
    assert_eq!(s.get(&fx.url("/_admin/users"), boss.t()).await.status, 200);

    // The admin check is exact: `Admin` is just another role.
    let fake = user(s, &fx, "fake@x.org", &["Admin"]).await;
    let r = s.get(&fx.url("/post"), fake.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for read on post");
    let r = s.get(&fx.url("/_admin/entities"), fake.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Admin access required");
}

async fn viewer_reads_and_creates_but_cannot_write(s: &TestServer) {
    let fx = setup(s).await;
    let p1 = post(s, &fx, "p1", "sales", "draft", 1).await;
    // Roles compare case-insensitively in both directions.
    grant(s, &fx, "post", "read", &["viewer"], Value::Null).await;
    grant(s, &fx, "post", "create", &["Viewer"], Value::Null).await;
    for (email, role) in [("v@x.org", "viewer"), ("v2@x.org", "VIEWER")] {
        let v = user(s, &fx, email, &[role]).await;
        let r = s.get(&fx.url("/post"), v.t()).await;
        assert_eq!(r.status, 200, "{role}: {:?}", r.body);
        assert!(titles(&r).contains(&"p1".to_string()));
        let r = s.get(&fx.url(&format!("/post/{p1}")), v.t()).await;
        assert_eq!((r.status, r.data()["title"].clone()), (200, json!("p1")));
        let r = s
            .post(&fx.url("/post"), v.t(), json!({"title": format!("by-{role}")}))
            .await;
        assert_eq!(r.status, 201, "{role}: {:?}", r.body);
        let created = r.data()["id"].as_str().unwrap().to_string();
        assert_eq!(
            admin_get(s, &fx, "post", &created).await.data()["title"],
            json!(format!("by-{role}"))
        );

        let r = s
            .put(&fx.url(&format!("/post/{p1}")), v.t(), json!({"title": "hacked"}))
            .await;
        assert_err(&r, 403, "FORBIDDEN", "No permission for update on post");
        let r = s.delete(&fx.url(&format!("/post/{p1}")), v.t()).await;
        assert_err(&r, 403, "FORBIDDEN", "No permission for delete on post");
    }
    let r = admin_get(s, &fx, "post", &p1).await;
    assert_eq!((r.status, r.data()["title"].clone()), (200, json!("p1")));
    assert_eq!(total(&s.get(&fx.url("/post"), fx.adm()).await), 3);

    // Once update/delete policies exist for other roles the message changes.
    grant(s, &fx, "post", "update", &["editor"], Value::Null).await;
    grant(s, &fx, "post", "delete", &["editor"], Value::Null).await;
    let v = user(s, &fx, "v3@x.org", &["viewer"]).await;
    let r = s
        .put(&fx.url(&format!("/post/{p1}")), v.t(), json!({"title": "hacked"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    let r = s.delete(&fx.url(&format!("/post/{p1}")), v.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on post");
    assert_eq!(admin_get(s, &fx, "post", &p1).await.data()["title"], "p1");
}

async fn role_without_policy_is_forbidden(s: &TestServer) {
    let fx = setup(s).await;
    let p1 = post(s, &fx, "p1", "sales", "draft", 1).await;
    let nobody = user(s, &fx, "nobody@x.org", &["nobody"]).await;
    let r = s.get(&fx.url("/post"), nobody.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for read on post");
    let r = s.get(&fx.url(&format!("/post/{p1}")), nobody.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for read on post");
    let r = s
        .post(&fx.url("/post"), nobody.t(), json!({"title": "sneaky"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for create on post");

    // Policies for other roles: still 403, with the other message.
    grant(s, &fx, "post", "read", &["viewer"], Value::Null).await;
    grant(s, &fx, "post", "create", &["viewer"], Value::Null).await;
    let r = s.get(&fx.url("/post"), nobody.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for read on post");
    let r = s
        .post(&fx.url("/post"), nobody.t(), json!({"title": "sneaky"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for create on post");
    // A user without any role at all.
    let empty = user(s, &fx, "empty@x.org", &[]).await;
    let r = s.get(&fx.url("/post"), empty.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for read on post");
    let r = s
        .post(&fx.url("/post"), empty.t(), json!({"title": "sneaky"}))
        .await;
    assert_eq!(r.status, 403);
    // Nothing was written by the refused creates.
    let r = s.get(&fx.url("/post"), fx.adm()).await;
    assert_eq!(titles(&r), strs(&["p1"]));

    // Unauthenticated callers get 401 before any policy is looked at.
    let r = s.get(&fx.url("/post"), None).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    let r = s.post(&fx.url("/post"), Some("garbage"), json!({})).await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid or expired token");
}

async fn admin_routes_require_admin(s: &TestServer) {
    let fx = setup(s).await;
    grant(s, &fx, "post", "read", &["editor"], Value::Null).await;
    let ed = user(s, &fx, "ed@x.org", &["editor", "viewer"]).await;
    for path in [
        "/_admin/entities",
        "/_admin/entities/post",
        "/_admin/relations",
        "/_admin/rules",
        "/_admin/state-machines",
        "/_admin/workflows",
        "/_admin/webhooks",
        "/_admin/users",
        "/_admin/permissions",
        "/_admin/invites",
        "/_admin/export",
        "/_admin/ui-configs",
    ] {
        let r = s.get(&fx.url(path), ed.t()).await;
        assert_err(&r, 403, "FORBIDDEN", "Admin access required");
    }
    let users_before = s.get(&fx.url("/_admin/users"), fx.adm()).await;
    let r = s
        .post(
            &fx.url("/_admin/users"),
            ed.t(),
            json!({"email": "evil@x.org", "password": "x", "roles": ["admin"]}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Admin access required");
    // No self-escalation.
    let r = s
        .put(
            &fx.url(&format!("/_admin/users/{}", ed.id)),
            ed.t(),
            json!({"email": "ed@x.org", "roles": ["admin"]}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Admin access required");
    let r = s
        .post(
            &fx.url("/_admin/permissions"),
            ed.t(),
            json!({"entity": "post", "action": "delete", "roles": ["editor"]}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Admin access required");
    let r = s
        .post(
            &fx.url("/_admin/invites"),
            ed.t(),
            json!({"email": "friend@x.org", "roles": ["admin"]}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Admin access required");
    let r = s.delete(&fx.url("/_admin/entities/post"), ed.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Admin access required");

    // None of the refused mutations happened.
    assert_eq!(
        s.get(&fx.url("/_admin/users"), fx.adm()).await.body,
        users_before.body
    );
    let r = s
        .get(&fx.url(&format!("/_admin/users/{}", ed.id)), fx.adm())
        .await;
    assert_eq!(r.data()["roles"], json!(["editor", "viewer"]));
    let r = s.get(&fx.url("/_admin/permissions"), fx.adm()).await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);
    assert_eq!(
        s.get(&fx.url("/_admin/invites"), fx.adm()).await.data(),
        &json!([])
    );
    assert_eq!(
        s.get(&fx.url("/_admin/entities/post"), fx.adm()).await.status,
        200
    );
    // The editor's own policy still works.
    assert_eq!(s.get(&fx.url("/post"), ed.t()).await.status, 200);
    // Without a token: 401, not 403.
    let r = s.get(&fx.url("/_admin/users"), None).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
}

// ---------------------------------------------------------------------------
// Row-level reads
// ---------------------------------------------------------------------------

async fn read_filter_limits_list_count_and_get(s: &TestServer) {
    let fx = setup(s).await;
    let s1 = post(s, &fx, "s1", "sales", "draft", 1).await;
    post(s, &fx, "s2", "sales", "published", 2).await;
    post(s, &fx, "s3", "sales", "draft", 3).await;
    let o1 = post(s, &fx, "o1", "ops", "draft", 4).await;
    post(s, &fx, "o2", "ops", "published", 5).await;
    mk(s, &fx, "post", json!({"title": "none"})).await;
    grant(
        s,
        &fx,
        "post",
        "read",
        &["viewer"],
        cond("department", "eq", json!("sales")),
    )
    .await;
    let v = user(s, &fx, "v@x.org", &["viewer"]).await;

    let r = s.get(&fx.url("/post"), v.t()).await;
    assert_eq!(titles(&r), strs(&["s1", "s2", "s3"]));
    assert_eq!(total(&r), 3, "meta.total counts only visible rows");
    // Pagination works inside the filtered set.
    let r = s.get(&fx.url("/post?per_page=2&sort=title"), v.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["s1", "s2"]), 3));
    let r = s.get(&fx.url("/post?per_page=2&page=2&sort=title"), v.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["s3"]), 3));
    // The caller's own filters combine with the policy (AND).
    let r = s.get(&fx.url("/post?filter[status]=draft"), v.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["s1", "s3"]), 2));
    let r = s.get(&fx.url("/post?filter[department]=ops"), v.t()).await;
    assert_eq!((titles(&r), total(&r)), (vec![], 0));
    let r = s.get(&fx.url("/post?filter[score.gte]=3"), v.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["s3"]), 1));

    // Get by id: a filtered-out row does not exist for the caller.
    let r = s.get(&fx.url(&format!("/post/{o1}")), v.t()).await;
    assert_err(&r, 404, "NOT_FOUND", &format!("post with id {o1} not found"));
    let r = s.get(&fx.url(&format!("/post/{s1}")), v.t()).await;
    assert_eq!((r.status, r.data()["title"].clone()), (200, json!("s1")));

    // The admin still sees everything.
    let r = s.get(&fx.url("/post"), fx.adm()).await;
    assert_eq!(total(&r), 6);
    assert_eq!(admin_get(s, &fx, "post", &o1).await.status, 200);
}

async fn includes_respect_related_read_policies(s: &TestServer) {
    let fx = setup(s).await;
    let sp = post(s, &fx, "sp", "sales", "draft", 1).await;
    let op = post(s, &fx, "op", "ops", "draft", 2).await;
    mk(
        s,
        &fx,
        "comment",
        json!({"post_id": sp, "body": "c-ok", "flagged": false}),
    )
    .await;
    mk(
        s,
        &fx,
        "comment",
        json!({"post_id": sp, "body": "c-bad", "flagged": true}),
    )
    .await;
    mk(
        s,
        &fx,
        "comment",
        json!({"post_id": op, "body": "c-op", "flagged": false}),
    )
    .await;
    let red = mk(s, &fx, "tag", json!({"name": "red"})).await;
    let blue = mk(s, &fx, "tag", json!({"name": "blue"})).await;
    let r = s
        .put(
            &fx.url(&format!("/post/{sp}")),
            fx.adm(),
            json!({"post_tags": {"_write_mode": "replace", "data": [{"id": red}, {"id": blue}]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // reader: posts only; comments and tags are forbidden entities.
    grant(s, &fx, "post", "read", &["reader", "moderator"], Value::Null).await;
    // moderator: only unflagged comments, only the red tag.
    grant(
        s,
        &fx,
        "comment",
        "read",
        &["moderator"],
        cond("flagged", "eq", json!(false)),
    )
    .await;
    grant(
        s,
        &fx,
        "tag",
        "read",
        &["moderator"],
        cond("name", "in", json!(["red"])),
    )
    .await;
    let reader = user(s, &fx, "reader@x.org", &["reader"]).await;
    let moder = user(s, &fx, "mod@x.org", &["moderator"]).await;

    let by_title = |r: &Resp, t: &str| -> Value {
        r.data()
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["title"] == t)
            .unwrap_or_else(|| panic!("{t} missing in {:?}", r.body))
            .clone()
    };
    let bodies = |v: &Value| -> Vec<String> {
        let mut b: Vec<String> = v
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {v:?}"))
            .iter()
            .map(|c| c["body"].as_str().unwrap().to_string())
            .collect();
        b.sort();
        b
    };
    let names = |v: &Value| -> Vec<String> {
        let mut b: Vec<String> = v
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {v:?}"))
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        b.sort();
        b
    };

    // Forbidden related entity: [] instead of the rows.
    let r = s
        .get(&fx.url("/post?include=comments,post_tags"), reader.t())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for t in ["sp", "op"] {
        let p = by_title(&r, t);
        assert_eq!(p["comments"], json!([]), "{t}: {p:?}");
        assert_eq!(p["post_tags"], json!([]), "{t}: {p:?}");
    }
    let r = s
        .get(
            &fx.url(&format!("/post/{sp}?include=comments,post_tags")),
            reader.t(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["comments"], json!([]));
    assert_eq!(r.data()["post_tags"], json!([]));

    // Conditional related policy: only the matching rows.
    let r = s
        .get(&fx.url("/post?include=comments,post_tags"), moder.t())
        .await;
    assert_eq!(bodies(&by_title(&r, "sp")["comments"]), strs(&["c-ok"]));
    assert_eq!(bodies(&by_title(&r, "op")["comments"]), strs(&["c-op"]));
    assert_eq!(names(&by_title(&r, "sp")["post_tags"]), strs(&["red"]));
    assert_eq!(by_title(&r, "op")["post_tags"], json!([]));
    let r = s
        .get(
            &fx.url(&format!("/post/{sp}?include=comments,post_tags")),
            moder.t(),
        )
        .await;
    assert_eq!(bodies(&r.data()["comments"]), strs(&["c-ok"]));
    assert_eq!(names(&r.data()["post_tags"]), strs(&["red"]));
    // The moderator's own comment list is filtered the same way.
    let r = s.get(&fx.url("/comment"), moder.t()).await;
    assert_eq!((values(&r, "body"), total(&r)), (strs(&["c-ok", "c-op"]), 2));

    // Reverse include (comment → post) under the post's read policy.
    grant(s, &fx, "comment", "read", &["commenter", "lurker"], Value::Null).await;
    grant(
        s,
        &fx,
        "post",
        "read",
        &["commenter"],
        cond("department", "eq", json!("sales")),
    )
    .await;
    let commenter = user(s, &fx, "com@x.org", &["commenter"]).await;
    let lurker = user(s, &fx, "lurk@x.org", &["lurker"]).await;
    let by_body = |r: &Resp, b: &str| -> Value {
        r.data()
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["body"] == b)
            .unwrap_or_else(|| panic!("{b} missing in {:?}", r.body))
            .clone()
    };
    let r = s.get(&fx.url("/comment?include=post"), commenter.t()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(total(&r), 3);
    assert_eq!(by_body(&r, "c-ok")["post"]["title"], "sp");
    assert_eq!(by_body(&r, "c-bad")["post"]["id"], json!(sp));
    assert_eq!(
        by_body(&r, "c-op")["post"],
        Value::Null,
        "ops post is filtered out"
    );
    let r = s.get(&fx.url("/comment?include=post"), lurker.t()).await;
    assert_eq!(r.status, 200);
    for b in ["c-ok", "c-bad", "c-op"] {
        assert_eq!(by_body(&r, b)["post"], Value::Null, "post entity is forbidden");
    }

    // The admin sees every related row.
    let r = s.get(&fx.url("/post?include=comments,post_tags"), fx.adm()).await;
    assert_eq!(bodies(&by_title(&r, "sp")["comments"]), strs(&["c-bad", "c-ok"]));
    assert_eq!(names(&by_title(&r, "sp")["post_tags"]), strs(&["blue", "red"]));
    let r = s.get(&fx.url("/comment?include=post"), fx.adm()).await;
    assert_eq!(by_body(&r, "c-op")["post"]["title"], "op");
}

async fn read_policies_combine_with_or(s: &TestServer) {
    let fx = setup(s).await;
    let a = post(s, &fx, "a", "sales", "published", 1).await;
    let b = post(s, &fx, "b", "ops", "published", 9).await;
    let c = post(s, &fx, "c", "ops", "draft", 3).await;
    post(s, &fx, "d", "hr", "draft", 10).await;
    post(s, &fx, "e", "sales", "draft", 2).await;

    // Two policies for the same role set: OR.
    grant(
        s,
        &fx,
        "post",
        "read",
        &["viewer"],
        cond("department", "eq", json!("sales")),
    )
    .await;
    grant(s, &fx, "post", "read", &["viewer"], cond("score", "gt", json!(8))).await;
    let v = user(s, &fx, "v@x.org", &["viewer"]).await;
    let r = s.get(&fx.url("/post"), v.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["a", "b", "d", "e"]), 4));
    assert_eq!(s.get(&fx.url(&format!("/post/{a}")), v.t()).await.status, 200);
    assert_eq!(s.get(&fx.url(&format!("/post/{b}")), v.t()).await.status, 200);
    assert_eq!(s.get(&fx.url(&format!("/post/{c}")), v.t()).await.status, 404);

    // Conditions inside one policy: AND.
    grant(
        s,
        &fx,
        "post",
        "read",
        &["auditor"],
        json!([{"field": "status", "operator": "eq", "value": "draft"},
               {"field": "department", "operator": "eq", "value": "sales"}]),
    )
    .await;
    let au = user(s, &fx, "au@x.org", &["auditor"]).await;
    let r = s.get(&fx.url("/post"), au.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["e"]), 1));

    // Policies reached through different roles of one user: OR as well.
    grant(
        s,
        &fx,
        "post",
        "read",
        &["hr"],
        cond("department", "eq", json!("hr")),
    )
    .await;
    let both = user(s, &fx, "both@x.org", &["auditor", "hr"]).await;
    let r = s.get(&fx.url("/post"), both.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["d", "e"]), 2));

    // A matching policy without conditions means no filter.
    grant(
        s,
        &fx,
        "post",
        "read",
        &["lead"],
        cond("department", "eq", json!("sales")),
    )
    .await;
    grant(s, &fx, "post", "read", &["Lead"], Value::Null).await;
    let lead = user(s, &fx, "lead@x.org", &["lead"]).await;
    let r = s.get(&fx.url("/post"), lead.t()).await;
    assert_eq!(total(&r), 5);
    assert_eq!(s.get(&fx.url(&format!("/post/{c}")), lead.t()).await.status, 200);
}

// ---------------------------------------------------------------------------
// Write conditions
// ---------------------------------------------------------------------------

async fn update_conditions_checked_on_stored_row(s: &TestServer) {
    let fx = setup(s).await;
    let d = post(s, &fx, "d", "sales", "draft", 1).await;
    let p = post(s, &fx, "p", "sales", "published", 2).await;
    grant(s, &fx, "post", "read", &["editor"], Value::Null).await;
    grant(
        s,
        &fx,
        "post",
        "update",
        &["editor"],
        cond("status", "eq", json!("draft")),
    )
    .await;
    let ed = user(s, &fx, "ed@x.org", &["editor"]).await;

    let r = s
        .put(&fx.url(&format!("/post/{d}")), ed.t(), json!({"title": "d2"}))
        .await;
    assert_eq!(
        (r.status, r.data()["title"].clone()),
        (200, json!("d2")),
        "{:?}",
        r.body
    );
    assert_eq!(admin_get(s, &fx, "post", &d).await.data()["title"], "d2");

    let r = s
        .put(&fx.url(&format!("/post/{p}")), ed.t(), json!({"title": "hacked"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    // The body cannot make the stored row qualify.
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            ed.t(),
            json!({"title": "hacked", "status": "draft"}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    let r = admin_get(s, &fx, "post", &p).await;
    assert_eq!(
        (r.data()["title"].clone(), r.data()["status"].clone()),
        (json!("p"), json!("published")),
        "published row unchanged"
    );

    // The condition applies to the row before the change: publishing a draft
    // is allowed once, then the row is out of reach.
    let r = s
        .put(
            &fx.url(&format!("/post/{d}")),
            ed.t(),
            json!({"status": "published"}),
        )
        .await;
    assert_eq!((r.status, r.data()["status"].clone()), (200, json!("published")));
    let r = s
        .put(&fx.url(&format!("/post/{d}")), ed.t(), json!({"title": "again"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    assert_eq!(admin_get(s, &fx, "post", &d).await.data()["title"], "d2");
    // The admin is not bound by the condition.
    let r = s
        .put(&fx.url(&format!("/post/{p}")), fx.adm(), json!({"title": "p2"}))
        .await;
    assert_eq!(r.status, 200);
}

async fn delete_conditions_checked_on_stored_row(s: &TestServer) {
    let fx = setup(s).await;
    let d = post(s, &fx, "d", "sales", "draft", 1).await;
    let p = post(s, &fx, "p", "sales", "published", 2).await;
    grant(s, &fx, "post", "read", &["editor"], Value::Null).await;
    grant(
        s,
        &fx,
        "post",
        "delete",
        &["editor"],
        cond("status", "eq", json!("draft")),
    )
    .await;
    let ed = user(s, &fx, "ed@x.org", &["editor"]).await;

    let r = s.delete(&fx.url(&format!("/post/{p}")), ed.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on post");
    let r = admin_get(s, &fx, "post", &p).await;
    assert_eq!((r.status, r.data()["title"].clone()), (200, json!("p")));

    let r = s.delete(&fx.url(&format!("/post/{d}")), ed.t()).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"data": {"id": d}})));
    assert_eq!(admin_get(s, &fx, "post", &d).await.status, 404);
    let r = s.get(&fx.url("/post"), ed.t()).await;
    assert_eq!(titles(&r), strs(&["p"]));
}

async fn in_not_in_and_numeric_conditions(s: &TestServer) {
    let fx = setup(s).await;
    let t1 = post(s, &fx, "t1", "x", "draft", 9).await;
    let t2 = post(s, &fx, "t2", "x", "review", 10).await;
    let t3 = post(s, &fx, "t3", "x", "published", 5).await;
    let t4 = post(s, &fx, "t4", "x", "archived", 100).await;

    // Reads (SQL filters).
    grant(
        s,
        &fx,
        "post",
        "read",
        &["r_in"],
        cond("status", "in", json!(["draft", "review"])),
    )
    .await;
    grant(
        s,
        &fx,
        "post",
        "read",
        &["r_notin"],
        cond("status", "not_in", json!(["archived", "published"])),
    )
    .await;
    // Numeric, not textual: "10" and "100" are greater than 9.
    grant(s, &fx, "post", "read", &["r_gt"], cond("score", "gt", json!(9))).await;
    grant(
        s,
        &fx,
        "post",
        "read",
        &["r_lt"],
        cond("score", "lt", json!("10")),
    )
    .await;
    let r_in = user(s, &fx, "in@x.org", &["r_in"]).await;
    let r_notin = user(s, &fx, "notin@x.org", &["r_notin"]).await;
    let r_gt = user(s, &fx, "gt@x.org", &["r_gt"]).await;
    let r_lt = user(s, &fx, "lt@x.org", &["r_lt"]).await;
    for (u, want) in [
        (&r_in, vec!["t1", "t2"]),
        (&r_notin, vec!["t1", "t2"]),
        (&r_gt, vec!["t2", "t4"]),
        (&r_lt, vec!["t1", "t3"]),
    ] {
        let r = s.get(&fx.url("/post"), u.t()).await;
        assert_eq!(titles(&r), strs(&want), "{:?}", r.body);
        assert_eq!(total(&r), want.len() as i64);
    }
    assert_eq!(s.get(&fx.url(&format!("/post/{t3}")), r_in.t()).await.status, 404);
    assert_eq!(s.get(&fx.url(&format!("/post/{t4}")), r_gt.t()).await.status, 200);

    // Writes (conditions evaluated on the stored row).
    grant(
        s,
        &fx,
        "post",
        "update",
        &["r_gt"],
        cond("score", "gt", json!("9")),
    )
    .await;
    grant(
        s,
        &fx,
        "post",
        "update",
        &["r_in"],
        cond("status", "in", json!(["draft", "review"])),
    )
    .await;
    grant(
        s,
        &fx,
        "post",
        "delete",
        &["r_notin"],
        cond("status", "not_in", json!(["published", "archived"])),
    )
    .await;
    grant(
        s,
        &fx,
        "post",
        "delete",
        &["r_lt"],
        cond("score", "lte", json!(5)),
    )
    .await;
    let upd = |id: &str, u: &User, title: &str| {
        let path = fx.url(&format!("/post/{id}"));
        let token = u.token.clone();
        let title = title.to_string();
        async move { s.put(&path, Some(&token), json!({"title": title})).await }
    };
    assert_eq!(upd(&t2, &r_gt, "t2-gt").await.status, 200);
    assert_eq!(upd(&t4, &r_gt, "t4-gt").await.status, 200, "100 > 9 numerically");
    let r = upd(&t1, &r_gt, "no").await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    assert_eq!(upd(&t1, &r_in, "t1-in").await.status, 200);
    let r = upd(&t3, &r_in, "no").await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    assert_eq!(admin_get(s, &fx, "post", &t3).await.data()["title"], "t3");

    let del = |id: &str, u: &User| {
        let path = fx.url(&format!("/post/{id}"));
        let token = u.token.clone();
        async move { s.delete(&path, Some(&token)).await }
    };
    let r = del(&t3, &r_notin).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on post");
    let r = del(&t4, &r_notin).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on post");
    let r = del(&t2, &r_lt).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on post");
    assert_eq!(del(&t1, &r_notin).await.status, 200);
    assert_eq!(del(&t3, &r_lt).await.status, 200, "5 <= 5");
    let r = s.get(&fx.url("/post"), fx.adm()).await;
    assert_eq!(titles(&r), strs(&["t2-gt", "t4-gt"]));
}

async fn owner_condition_with_user_id(s: &TestServer) {
    let fx = setup(s).await;
    let own = || cond("owner_id", "eq", json!("$user.id"));
    grant(s, &fx, "post", "read", &["member"], own()).await;
    grant(s, &fx, "post", "update", &["member"], own()).await;
    grant(s, &fx, "post", "delete", &["member"], own()).await;
    grant(s, &fx, "post", "create", &["member"], Value::Null).await;
    let alice = user(s, &fx, "alice@x.org", &["member"]).await;
    let bob = user(s, &fx, "bob@x.org", &["member"]).await;
    let a1 = mk(s, &fx, "post", json!({"title": "a1", "owner_id": alice.id})).await;
    mk(s, &fx, "post", json!({"title": "a2", "owner_id": alice.id})).await;
    let b1 = mk(s, &fx, "post", json!({"title": "b1", "owner_id": bob.id})).await;
    mk(s, &fx, "post", json!({"title": "orphan"})).await;

    let r = s.get(&fx.url("/post"), alice.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["a1", "a2"]), 2));
    let r = s.get(&fx.url("/post"), bob.t()).await;
    assert_eq!((titles(&r), total(&r)), (strs(&["b1"]), 1));
    assert_eq!(
        s.get(&fx.url(&format!("/post/{b1}")), alice.t()).await.status,
        404
    );
    assert_eq!(
        s.get(&fx.url(&format!("/post/{a1}")), alice.t()).await.status,
        200
    );

    let r = s
        .put(
            &fx.url(&format!("/post/{a1}")),
            alice.t(),
            json!({"title": "a1x"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .put(
            &fx.url(&format!("/post/{b1}")),
            alice.t(),
            json!({"title": "stolen"}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");
    assert_eq!(admin_get(s, &fx, "post", &b1).await.data()["title"], "b1");
    let r = s.delete(&fx.url(&format!("/post/{b1}")), alice.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on post");
    assert_eq!(admin_get(s, &fx, "post", &b1).await.status, 200);
    let r = s.delete(&fx.url(&format!("/post/{b1}")), bob.t()).await;
    assert_eq!(r.status, 200);

    // Creates ignore conditions; the new row is visible to its owner only.
    let r = s
        .post(
            &fx.url("/post"),
            alice.t(),
            json!({"title": "a3", "owner_id": alice.id}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .post(
            &fx.url("/post"),
            alice.t(),
            json!({"title": "gift", "owner_id": bob.id}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s.get(&fx.url("/post"), alice.t()).await;
    assert_eq!(titles(&r), strs(&["a1x", "a2", "a3"]));
    let r = s.get(&fx.url("/post"), bob.t()).await;
    assert_eq!(titles(&r), strs(&["gift"]));
}

async fn nested_writes_check_child_permissions(s: &TestServer) {
    let fx = setup(s).await;
    for action in ["read", "create", "update"] {
        grant(s, &fx, "post", action, &["editor"], Value::Null).await;
    }
    grant(s, &fx, "comment", "read", &["editor"], Value::Null).await;
    let ed = user(s, &fx, "ed@x.org", &["editor"]).await;
    let comment_bodies = || async {
        let r = s.get(&fx.url("/comment"), fx.adm()).await;
        values(&r, "body")
    };

    // Create with a child the caller may not create: nothing is written.
    let r = s
        .post(
            &fx.url("/post"),
            ed.t(),
            json!({"title": "nested-1",
                   "comments": {"_write_mode": "append", "data": [{"body": "c1"}]}}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for create on comment");
    let r = s.get(&fx.url("/post?filter[title]=nested-1"), fx.adm()).await;
    assert_eq!(total(&r), 0, "parent rolled back");
    assert_eq!(comment_bodies().await, Vec::<String>::new());

    // Update of an existing parent: parent change rolled back as well.
    let p = post(s, &fx, "p", "sales", "draft", 1).await;
    let c0 = mk(
        s,
        &fx,
        "comment",
        json!({"post_id": p, "body": "c0", "flagged": false}),
    )
    .await;
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            ed.t(),
            json!({"title": "changed",
                   "comments": {"_write_mode": "append", "data": [{"body": "c2"}]}}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for create on comment");
    assert_eq!(admin_get(s, &fx, "post", &p).await.data()["title"], "p");
    assert_eq!(comment_bodies().await, strs(&["c0"]));

    // Updating or deleting an existing child needs update/delete on comment.
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            ed.t(),
            json!({"comments": {"_write_mode": "diff", "data": [{"id": c0, "body": "edited"}]}}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for update on comment");
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            ed.t(),
            json!({"comments": {"_write_mode": "diff", "data": [{"id": c0, "_delete": true}]}}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for delete on comment");
    // Conditions on the child's stored row apply too.
    grant(
        s,
        &fx,
        "comment",
        "delete",
        &["editor"],
        cond("flagged", "eq", json!(true)),
    )
    .await;
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            ed.t(),
            json!({"comments": {"_write_mode": "diff", "data": [{"id": c0, "_delete": true}]}}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for delete on comment");
    assert_eq!(comment_bodies().await, strs(&["c0"]));

    // With the child permissions the same writes go through.
    grant(s, &fx, "comment", "create", &["editor"], Value::Null).await;
    grant(s, &fx, "comment", "update", &["editor"], Value::Null).await;
    let r = s
        .post(
            &fx.url("/post"),
            ed.t(),
            json!({"title": "nested-2",
                   "comments": {"_write_mode": "append", "data": [{"body": "c3"}, {"body": "c4"}]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let n2 = r.data()["id"].as_str().unwrap().to_string();
    let r = s
        .get(&fx.url(&format!("/post/{n2}?include=comments")), fx.adm())
        .await;
    let mut got: Vec<String> = r.data()["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, strs(&["c3", "c4"]));
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            ed.t(),
            json!({"comments": {"_write_mode": "diff", "data": [{"id": c0, "body": "edited"}]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(comment_bodies().await, strs(&["c3", "c4", "edited"]));
}

async fn check_order_record_before_permission(s: &TestServer) {
    let fx = setup(s).await;
    let p = post(s, &fx, "p", "sales", "published", 1).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    grant(s, &fx, "post", "read", &["reader"], Value::Null).await;
    let reader = user(s, &fx, "reader@x.org", &["reader"]).await;

    // Update / delete: the record is loaded (404) before the permission (403).
    let r = s
        .put(
            &fx.url(&format!("/post/{missing}")),
            reader.t(),
            json!({"title": "x"}),
        )
        .await;
    assert_err(&r, 404, "NOT_FOUND", &format!("post with id {missing} not found"));
    let r = s
        .put(&fx.url(&format!("/post/{p}")), reader.t(), json!({"title": "x"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for update on post");
    let r = s.delete(&fx.url(&format!("/post/{missing}")), reader.t()).await;
    assert_err(&r, 404, "NOT_FOUND", &format!("post with id {missing} not found"));
    let r = s.delete(&fx.url(&format!("/post/{p}")), reader.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for delete on post");
    // Same with a conditional policy.
    grant(
        s,
        &fx,
        "post",
        "update",
        &["reader"],
        cond("status", "eq", json!("draft")),
    )
    .await;
    let r = s
        .put(
            &fx.url(&format!("/post/{missing}")),
            reader.t(),
            json!({"title": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    // Permission (403) before the body is validated.
    let r = s
        .put(
            &fx.url(&format!("/post/{p}")),
            reader.t(),
            json!({"score": "not-a-number"}),
        )
        .await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for update on post");

    // Entity (404) before permission; permission before query/body parsing.
    let nobody = user(s, &fx, "nobody@x.org", &["nobody"]).await;
    let r = s.get(&fx.url("/nope"), nobody.t()).await;
    assert_err(&r, 404, "UNKNOWN_ENTITY", "Unknown entity: nope");
    let r = s.get(&fx.url("/post?filter[bogus]=1"), nobody.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for read on post");
    let r = s.get(&fx.url("/post?filter[bogus]=1"), reader.t()).await;
    assert_eq!((r.status, r.code()), (400, "UNKNOWN_FIELD"));
    let r = s
        .post(&fx.url("/post"), nobody.t(), json!({"score": "not-a-number"}))
        .await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for create on post");
    let r = s
        .post(&fx.url("/post"), fx.adm(), json!({"score": "not-a-number"}))
        .await;
    assert!(
        r.status == 400 || r.status == 422,
        "the same body is invalid for the admin: {} {:?}",
        r.status,
        r.body
    );
}

/// http-api.md §11 check order: "Create: entity → permission(create) → parse
/// body" and "Update: entity → load current record (404) → permission(update,
/// current) → parse body": a malformed body must not win over 404/403.
async fn check_order_body_parsed_after_permission(s: &TestServer) {
    let fx = setup(s).await;
    let p = post(s, &fx, "p", "sales", "published", 1).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    grant(s, &fx, "post", "read", &["reader"], Value::Null).await;
    let reader = user(s, &fx, "reader@x.org", &["reader"]).await;
    let bad = "{not json";
    // Malformed JSON is 400 for a caller allowed to write.
    let r = s.call_raw(Method::POST, &fx.url("/post"), fx.adm(), bad).await;
    assert_err(&r, 400, "INVALID_PAYLOAD", "Invalid JSON body");

    let mut got = Vec::new();
    let mut want = Vec::new();
    for (method, path, status, code) in [
        (Method::POST, fx.url("/nope"), 404, "UNKNOWN_ENTITY"),
        (Method::POST, fx.url("/post"), 403, "FORBIDDEN"),
        (Method::PUT, fx.url(&format!("/post/{missing}")), 404, "NOT_FOUND"),
        (Method::PUT, fx.url(&format!("/post/{p}")), 403, "FORBIDDEN"),
    ] {
        let r = s.call_raw(method.clone(), &path, reader.t(), bad).await;
        got.push(format!("{method} {path}: {} {}", r.status, r.code()));
        want.push(format!("{method} {path}: {status} {code}"));
    }
    assert_eq!(got, want);
}

/// Declared by hand (not through `store_tests!`) so both can carry `#[ignore]`.
mod check_order_body_parsed_after_permission {
    use rocket_testkit::{Store, TestServer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "server bug: malformed JSON answers 400 before the entity/record/permission checks (http-api.md §11 check order)"]
    async fn sqlite() {
        if let Some(s) = TestServer::start(Store::Sqlite).await {
            super::check_order_body_parsed_after_permission(&s).await;
            s.stop().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "server bug: malformed JSON answers 400 before the entity/record/permission checks (http-api.md §11 check order)"]
    async fn postgres() {
        if let Some(s) = TestServer::start(Store::Postgres).await {
            super::check_order_body_parsed_after_permission(&s).await;
            s.stop().await;
        }
    }
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

async fn users_crud(s: &TestServer) {
    let fx = setup(s).await;
    let u = fx.url("/_admin/users");
    let row_keys = set(&["id", "email", "roles", "active", "created_at", "updated_at"]);

    let r = s
        .post(
            &u,
            fx.adm(),
            json!({"email": "kim@x.org", "password": "first-pw", "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(keys(r.data()), row_keys, "no password_hash: {:?}", r.body);
    assert_eq!(r.data()["email"], "kim@x.org");
    assert_eq!(r.data()["roles"], json!(["viewer"]));
    assert_eq!(r.data()["active"], true, "active defaults to true");
    let id = r.data()["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    // roles default to [].
    let r = s
        .post(&u, fx.adm(), json!({"email": "bare@x.org", "password": "pw"}))
        .await;
    assert_eq!((r.status, r.data()["roles"].clone()), (201, json!([])));
    let bare = r.data()["id"].as_str().unwrap().to_string();

    // List and get never carry the hash.
    let r = s.get(&u, fx.adm()).await;
    assert_eq!(r.status, 200);
    let list = r.data().as_array().unwrap();
    assert_eq!(
        values(&r, "email"),
        strs(&["admin@localhost", "bare@x.org", "kim@x.org"])
    );
    for row in list {
        assert_eq!(keys(row), row_keys, "{row:?}");
    }
    assert!(!r.body.to_string().contains("argon2"), "no hash leaked");
    let r = s.get(&format!("{u}/{id}"), fx.adm()).await;
    assert_eq!((r.status, keys(r.data())), (200, row_keys.clone()));
    assert_eq!(r.data()["email"], "kim@x.org");

    // Validation and conflicts.
    let r = s.post(&u, fx.adm(), json!({"password": "x"})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "email is required");
    let r = s.post(&u, fx.adm(), json!({"email": "z@x.org"})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "password is required");
    let r = s
        .post(&u, fx.adm(), json!({"email": "z@x.org", "password": ""}))
        .await;
    assert_err(&r, 422, "VALIDATION_FAILED", "password is required");
    let r = s
        .post(&u, fx.adm(), json!({"email": "kim@x.org", "password": "x"}))
        .await;
    assert_eq!((r.status, r.code()), (409, "CONFLICT"), "{:?}", r.body);
    let r = s
        .put(
            &format!("{u}/{bare}"),
            fx.adm(),
            json!({"email": "kim@x.org", "roles": []}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "CONFLICT"), "{:?}", r.body);
    let r = s
        .put(&format!("{u}/{id}"), fx.adm(), json!({"roles": ["x"]}))
        .await;
    assert_err(&r, 422, "VALIDATION_FAILED", "email is required");
    assert_eq!(s.get(&u, fx.adm()).await.data().as_array().unwrap().len(), 3);

    // Update without password keeps it; absent `active` keeps the flag.
    let r = s
        .put(
            &format!("{u}/{id}"),
            fx.adm(),
            json!({"email": "kim@x.org", "roles": ["editor", "viewer"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(keys(r.data()), row_keys);
    assert_eq!(r.data()["roles"], json!(["editor", "viewer"]));
    assert_eq!(r.data()["active"], true);
    assert_eq!(login(s, &fx, "kim@x.org", "first-pw").await.status, 200);
    // An empty password also keeps it.
    let r = s
        .put(
            &format!("{u}/{id}"),
            fx.adm(),
            json!({"email": "kim@x.org", "password": "", "roles": ["editor"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(login(s, &fx, "kim@x.org", "first-pw").await.status, 200);
    // With a password: replaced.
    let r = s
        .put(
            &format!("{u}/{id}"),
            fx.adm(),
            json!({"email": "kim@x.org", "password": "second-pw", "roles": ["editor"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.data().get("password_hash").is_none());
    let r = login(s, &fx, "kim@x.org", "first-pw").await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid email or password");
    assert_eq!(login(s, &fx, "kim@x.org", "second-pw").await.status, 200);
    // Roles absent on update → [].
    let r = s
        .put(&format!("{u}/{id}"), fx.adm(), json!({"email": "kim@x.org"}))
        .await;
    assert_eq!(r.data()["roles"], json!([]));
    // Email change: the new address logs in.
    let r = s
        .put(
            &format!("{u}/{id}"),
            fx.adm(),
            json!({"email": "kim2@x.org", "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.data()["email"], "kim2@x.org");
    assert_eq!(login(s, &fx, "kim2@x.org", "second-pw").await.status, 200);
    assert_eq!(login(s, &fx, "kim@x.org", "second-pw").await.status, 401);

    // New roles take effect at the next login.
    grant(s, &fx, "post", "read", &["viewer"], Value::Null).await;
    let t = login(s, &fx, "bare@x.org", "pw").await.data()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.get(&fx.url("/post"), Some(&t)).await.status, 403);
    s.put(
        &format!("{u}/{bare}"),
        fx.adm(),
        json!({"email": "bare@x.org", "roles": ["viewer"]}),
    )
    .await;
    let t = login(s, &fx, "bare@x.org", "pw").await.data()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.get(&fx.url("/post"), Some(&t)).await.status, 200);

    // Delete, then 404 everywhere.
    let r = s.delete(&format!("{u}/{id}"), fx.adm()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"data": {"id": id, "deleted": true}}))
    );
    let r = s.get(&format!("{u}/{id}"), fx.adm()).await;
    assert_err(&r, 404, "NOT_FOUND", &format!("User not found: {id}"));
    assert_eq!(s.delete(&format!("{u}/{id}"), fx.adm()).await.status, 404);
    let r = s
        .put(&format!("{u}/{id}"), fx.adm(), json!({"email": "kim2@x.org"}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(s.get(&format!("{u}/not-a-uuid"), fx.adm()).await.status, 404);
    let r = login(s, &fx, "kim2@x.org", "second-pw").await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid email or password");
    // The email is free again.
    let r = s
        .post(&u, fx.adm(), json!({"email": "kim2@x.org", "password": "pw3"}))
        .await;
    assert_eq!(r.status, 201);
}

async fn passwords_argon2id_and_bcrypt_compat(s: &TestServer) {
    let fx = setup(s).await;
    user(s, &fx, "new@x.org", &[]).await;
    let h = app_sql(
        s,
        &fx,
        "SELECT password_hash FROM _users WHERE email = 'new@x.org'",
    )
    .await
    .expect("user row");
    assert!(h.starts_with("$argon2id$"), "new hashes are Argon2id: {h}");
    assert!(!h.contains(PW));

    // A reference (Go) bcrypt hash still verifies.
    let legacy = rocket_auth::hash_password_bcrypt("legacy-pass")
        .unwrap()
        .replacen("$2b$", "$2a$", 1);
    assert!(legacy.starts_with("$2a$10$"), "{legacy}");
    app_sql(
        s,
        &fx,
        &format!("UPDATE _users SET password_hash = '{legacy}' WHERE email = 'new@x.org'"),
    )
    .await;
    let r = login(s, &fx, "new@x.org", "legacy-pass").await;
    assert_eq!(r.status, 200, "bcrypt hash verifies: {:?}", r.body);
    let r = login(s, &fx, "new@x.org", PW).await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid email or password");
    let r = login(s, &fx, "new@x.org", "legacy-pasS").await;
    assert_eq!(r.status, 401);
}

async fn disabled_user_cannot_log_in_or_refresh(s: &TestServer) {
    let fx = setup(s).await;
    let u = fx.url("/_admin/users");
    // Created disabled.
    let r = s
        .post(
            &u,
            fx.adm(),
            json!({"email": "off@x.org", "password": PW, "active": false}),
        )
        .await;
    assert_eq!((r.status, r.data()["active"].clone()), (201, json!(false)));
    // The password is checked first, then the flag (semantics.md §13.2 [Rec]).
    let r = login(s, &fx, "off@x.org", PW).await;
    assert_err(&r, 401, "UNAUTHORIZED", "Account is disabled");
    let r = login(s, &fx, "off@x.org", "wrong").await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid email or password");

    // Disabled later: login and the refresh token stop working.
    let on = user(s, &fx, "on@x.org", &["viewer"]).await;
    let spare = login(s, &fx, "on@x.org", PW).await.data()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .put(
            &format!("{u}/{}", on.id),
            fx.adm(),
            json!({"email": "on@x.org", "roles": ["viewer"], "active": false}),
        )
        .await;
    assert_eq!((r.status, r.data()["active"].clone()), (200, json!(false)));
    let r = login(s, &fx, "on@x.org", PW).await;
    assert_err(&r, 401, "UNAUTHORIZED", "Account is disabled");
    for rt in [&on.refresh, &spare] {
        let r = s
            .post(&fx.url("/auth/refresh"), None, json!({"refresh_token": rt}))
            .await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"), "{:?}", r.body);
        assert!(
            r.message() == "Invalid refresh token" || r.message() == "Account is disabled",
            "{:?}",
            r.body
        );
    }
    // An update without `active` keeps the account disabled.
    let r = s
        .put(
            &format!("{u}/{}", on.id),
            fx.adm(),
            json!({"email": "on@x.org", "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.data()["active"], false);
    assert_eq!(login(s, &fx, "on@x.org", PW).await.status, 401);
    // Re-enabled: login works again, the old refresh tokens stay dead.
    let r = s
        .put(
            &format!("{u}/{}", on.id),
            fx.adm(),
            json!({"email": "on@x.org", "roles": ["viewer"], "active": true}),
        )
        .await;
    assert_eq!(r.data()["active"], true);
    let r = login(s, &fx, "on@x.org", PW).await;
    assert_eq!(r.status, 200);
    let fresh = r.data()["refresh_token"].as_str().unwrap().to_string();
    let r = s
        .post(
            &fx.url("/auth/refresh"),
            None,
            json!({"refresh_token": on.refresh}),
        )
        .await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid refresh token");
    let r = s
        .post(&fx.url("/auth/refresh"), None, json!({"refresh_token": fresh}))
        .await;
    assert_eq!(r.status, 200);
    let fresh = r.data()["refresh_token"].as_str().unwrap().to_string();

    // Deleting the user ends its refresh tokens too.
    assert_eq!(s.delete(&format!("{u}/{}", on.id), fx.adm()).await.status, 200);
    let r = s
        .post(&fx.url("/auth/refresh"), None, json!({"refresh_token": fresh}))
        .await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid refresh token");
}

// ---------------------------------------------------------------------------
// Permissions admin
// ---------------------------------------------------------------------------

async fn permissions_crud_and_reload(s: &TestServer) {
    let fx = setup(s).await;
    let p = fx.url("/_admin/permissions");
    post(s, &fx, "s1", "sales", "draft", 1).await;
    post(s, &fx, "o1", "ops", "draft", 2).await;
    let v = user(s, &fx, "v@x.org", &["viewer"]).await;
    assert_eq!(s.get(&fx.url("/post"), v.t()).await.status, 403);
    assert_eq!(s.get(&p, fx.adm()).await.data(), &json!([]));

    // Create: 201, conditions omitted when empty; the registry reloads.
    let r = s
        .post(
            &p,
            fx.adm(),
            json!({"entity": "post", "action": "read", "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let pid = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.data(),
        &json!({"id": pid, "entity": "post", "action": "read", "roles": ["viewer"]})
    );
    let r = s.get(&fx.url("/post"), v.t()).await;
    assert_eq!((r.status, total(&r)), (200, 2), "visible at once");

    let conds = json!([{"field": "status", "operator": "eq", "value": "draft"}]);
    let r = s
        .post(
            &p,
            fx.adm(),
            json!({"entity": "post", "action": "update", "roles": ["editor"], "conditions": conds}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.data()["conditions"], conds);
    let pid2 = r.data()["id"].as_str().unwrap().to_string();

    // Get and list: full rows.
    let row_keys = set(&[
        "id",
        "entity",
        "action",
        "roles",
        "conditions",
        "created_at",
        "updated_at",
    ]);
    let r = s.get(&format!("{p}/{pid}"), fx.adm()).await;
    assert_eq!((r.status, keys(r.data())), (200, row_keys.clone()));
    assert_eq!(
        (
            r.data()["entity"].clone(),
            r.data()["action"].clone(),
            r.data()["roles"].clone(),
            r.data()["conditions"].clone()
        ),
        (json!("post"), json!("read"), json!(["viewer"]), json!([]))
    );
    let r = s.get(&format!("{p}/{pid2}"), fx.adm()).await;
    assert_eq!(r.data()["conditions"], conds);
    let r = s.get(&p, fx.adm()).await;
    assert_eq!(r.data().as_array().unwrap().len(), 2);
    for row in r.data().as_array().unwrap() {
        assert_eq!(keys(row), row_keys);
    }
    // The entity is not checked for existence.
    let r = s
        .post(
            &p,
            fx.adm(),
            json!({"entity": "ghost", "action": "delete", "roles": []}),
        )
        .await;
    assert_eq!(r.status, 201);

    // Update: full replacement, effective at once.
    let r = s
        .put(
            &format!("{p}/{pid}"),
            fx.adm(),
            json!({"entity": "post", "action": "read", "roles": ["viewer"],
                   "conditions": [{"field": "department", "operator": "eq", "value": "sales"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["id"], json!(pid));
    let r = s.get(&fx.url("/post"), v.t()).await;
    assert_eq!(titles(&r), strs(&["s1"]));
    let r = s
        .put(
            &format!("{p}/{pid}"),
            fx.adm(),
            json!({"entity": "post", "action": "read", "roles": ["other"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.data().get("conditions").is_none(), "{:?}", r.body);
    let r = s.get(&format!("{p}/{pid}"), fx.adm()).await;
    assert_eq!(
        (r.data()["roles"].clone(), r.data()["conditions"].clone()),
        (json!(["other"]), json!([]))
    );
    let r = s.get(&fx.url("/post"), v.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "Permission denied for read on post");

    // Validation, on create and on update.
    for (body, msg) in [
        (json!({"action": "read", "roles": ["x"]}), "entity is required"),
        (
            json!({"entity": "  ", "action": "read", "roles": ["x"]}),
            "entity is required",
        ),
        (json!({"entity": "post", "roles": ["x"]}), "action is required"),
        (
            json!({"entity": "post", "action": "fly", "roles": ["x"]}),
            "action must be read, create, update, or delete",
        ),
    ] {
        let r = s.post(&p, fx.adm(), body.clone()).await;
        assert_err(&r, 422, "VALIDATION_FAILED", msg);
        let r = s.put(&format!("{p}/{pid}"), fx.adm(), body).await;
        assert_err(&r, 422, "VALIDATION_FAILED", msg);
    }
    assert_eq!(s.get(&p, fx.adm()).await.data().as_array().unwrap().len(), 3);
    let r = s.get(&format!("{p}/{pid}"), fx.adm()).await;
    assert_eq!(
        r.data()["roles"],
        json!(["other"]),
        "refused update changed nothing"
    );

    // Delete: 200, then 404; the policy is gone from the registry.
    let r = s.delete(&format!("{p}/{pid}"), fx.adm()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"data": {"id": pid, "deleted": true}}))
    );
    let r = s.get(&format!("{p}/{pid}"), fx.adm()).await;
    assert_err(&r, 404, "NOT_FOUND", &format!("Permission not found: {pid}"));
    assert_eq!(s.delete(&format!("{p}/{pid}"), fx.adm()).await.status, 404);
    let r = s
        .put(
            &format!("{p}/{pid}"),
            fx.adm(),
            json!({"entity": "post", "action": "read", "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(s.get(&format!("{p}/not-a-uuid"), fx.adm()).await.status, 404);
    let r = s.get(&fx.url("/post"), v.t()).await;
    assert_err(&r, 403, "FORBIDDEN", "No permission for read on post");
}

// ---------------------------------------------------------------------------
// Invites
// ---------------------------------------------------------------------------

async fn admin_id(s: &TestServer, fx: &Fx) -> String {
    let r = s.get(&fx.url("/_admin/users"), fx.adm()).await;
    r.data()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "admin@localhost")
        .expect("seeded admin")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("timestamp: {v:?}")))
        .unwrap()
        .to_utc()
}

async fn invite(s: &TestServer, fx: &Fx, email: &str, roles: &[&str]) -> (String, String) {
    let r = s
        .post(
            &fx.url("/_admin/invites"),
            fx.adm(),
            json!({"email": email, "roles": roles}),
        )
        .await;
    assert_eq!(r.status, 201, "invite: {:?}", r.body);
    (
        r.data()["id"].as_str().unwrap().to_string(),
        r.data()["token"].as_str().unwrap().to_string(),
    )
}

async fn accept(s: &TestServer, fx: &Fx, token: &str, password: &str) -> Resp {
    s.post(
        &fx.url("/auth/accept-invite"),
        None,
        json!({"token": token, "password": password}),
    )
    .await
}

async fn invites_create_list_delete(s: &TestServer) {
    let fx = setup(s).await;
    let i = fx.url("/_admin/invites");
    let admin = admin_id(s, &fx).await;
    assert_eq!(s.get(&i, fx.adm()).await.data(), &json!([]));

    let r = s
        .post(&i, fx.adm(), json!({"email": "dana@x.org", "roles": ["editor"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        keys(r.data()),
        set(&[
            "id",
            "email",
            "roles",
            "token",
            "expires_at",
            "invited_by",
            "created_at"
        ])
    );
    let d = r.data().clone();
    let token = d["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32, "unguessable token: {token}");
    assert_eq!(
        (d["email"].clone(), d["roles"].clone(), d["invited_by"].clone()),
        (json!("dana@x.org"), json!(["editor"]), json!(admin))
    );
    let ttl = ts(&d["expires_at"]) - ts(&d["created_at"]);
    assert!(
        (ttl - chrono::Duration::hours(72)).num_seconds().abs() <= 1,
        "expires 72 h after creation: {ttl:?}"
    );
    let inv = d["id"].as_str().unwrap().to_string();
    // Roles default to [].
    let r = s.post(&i, fx.adm(), json!({"email": "lee@x.org"})).await;
    assert_eq!((r.status, r.data()["roles"].clone()), (201, json!([])));
    assert_ne!(r.data()["token"], json!(token), "tokens differ");

    // Conflicts and validation.
    let r = s.post(&i, fx.adm(), json!({"email": "dana@x.org"})).await;
    assert_err(
        &r,
        409,
        "CONFLICT",
        "A pending invite already exists for this email",
    );
    let r = s.post(&i, fx.adm(), json!({"email": "admin@localhost"})).await;
    assert_err(&r, 409, "CONFLICT", "A user with this email already exists");
    let r = s.post(&i, fx.adm(), json!({"roles": ["x"]})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "email is required");
    let r = s.post(&i, fx.adm(), json!({"email": "   "})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "email is required");

    // List: newest first, the token is not recoverable.
    let r = s.get(&i, fx.adm()).await;
    assert_eq!(r.status, 200);
    let list = r.data().as_array().unwrap();
    assert_eq!(
        list.iter().map(|x| x["email"].clone()).collect::<Vec<_>>(),
        vec![json!("lee@x.org"), json!("dana@x.org")]
    );
    let row = &list[1];
    assert_eq!(
        keys(row),
        set(&[
            "id",
            "email",
            "roles",
            "token",
            "expires_at",
            "accepted_at",
            "invited_by",
            "created_at"
        ])
    );
    assert_eq!(row["token"], Value::Null);
    assert_eq!(row["accepted_at"], Value::Null);
    assert_eq!(
        (row["id"].clone(), row["roles"].clone(), row["invited_by"].clone()),
        (json!(inv), json!(["editor"]), json!(admin))
    );
    assert_eq!(ts(&row["expires_at"]), ts(&d["expires_at"]));
    assert!(!r.body.to_string().contains(&token), "token not listed");

    // Delete: 200, then 404; the token is dead and the email free again.
    let r = s.delete(&format!("{i}/{inv}"), fx.adm()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"data": {"id": inv, "deleted": true}}))
    );
    let r = s.delete(&format!("{i}/{inv}"), fx.adm()).await;
    assert_err(&r, 404, "NOT_FOUND", &format!("Invite not found: {inv}"));
    assert_eq!(s.delete(&format!("{i}/not-a-uuid"), fx.adm()).await.status, 404);
    let r = accept(s, &fx, &token, "pw").await;
    assert_err(&r, 404, "NOT_FOUND", "Invalid invite token");
    assert_eq!(values(&s.get(&i, fx.adm()).await, "email"), strs(&["lee@x.org"]));
    let r = s.post(&i, fx.adm(), json!({"email": "dana@x.org"})).await;
    assert_eq!(r.status, 201);
}

async fn invites_bulk(s: &TestServer) {
    let fx = setup(s).await;
    let i = fx.url("/_admin/invites");
    invite(s, &fx, "pending@x.org", &[]).await;
    let r = s
        .post(
            &format!("{i}/bulk"),
            fx.adm(),
            json!({"emails": [" Ana@Example.org", "ana@example.org", "ADMIN@localhost",
                              "pending@x.org", "bo@x.org ", "BO@x.org"],
                   "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let d = r.data().clone();
    assert_eq!(d["summary"], json!({"total": 4, "created": 2, "skipped": 2}));
    assert_eq!(
        d["skipped"],
        json!([{"email": "admin@localhost", "reason": "A user with this email already exists"},
               {"email": "pending@x.org", "reason": "A pending invite already exists for this email"}])
    );
    let created = d["created"].as_array().unwrap();
    assert_eq!(
        created.iter().map(|c| c["email"].clone()).collect::<Vec<_>>(),
        vec![json!("ana@example.org"), json!("bo@x.org")]
    );
    for c in created {
        assert_eq!(keys(c), set(&["id", "email", "token", "expires_at"]));
    }
    let r = s.get(&i, fx.adm()).await;
    assert_eq!(
        values(&r, "email"),
        strs(&["ana@example.org", "bo@x.org", "pending@x.org"])
    );
    for row in r.data().as_array().unwrap() {
        if row["email"] != "pending@x.org" {
            assert_eq!(row["roles"], json!(["viewer"]));
        }
    }
    // A bulk token is a working invite.
    let token = created[1]["token"].as_str().unwrap();
    let r = accept(s, &fx, token, "bo-pass").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["user"]["roles"], json!(["viewer"]), "{:?}", r.body);
    // Repeating the bulk: everything is skipped now.
    let r = s
        .post(
            &format!("{i}/bulk"),
            fx.adm(),
            json!({"emails": ["ana@example.org", "bo@x.org"]}),
        )
        .await;
    assert_eq!(
        r.data()["summary"],
        json!({"total": 2, "created": 0, "skipped": 2})
    );
    assert_eq!(
        r.data()["skipped"],
        json!([{"email": "ana@example.org", "reason": "A pending invite already exists for this email"},
               {"email": "bo@x.org", "reason": "A user with this email already exists"}])
    );
    assert_eq!(r.data()["created"], json!([]));

    // Invalid requests create nothing.
    for (body, msg) in [
        (
            json!({"emails": []}),
            "emails is required and must be a non-empty array",
        ),
        (json!({}), "emails is required and must be a non-empty array"),
        (
            json!({"emails": ["new1@x.org", "  "]}),
            "emails must not contain blank entries",
        ),
        (
            json!({"emails": ["new2@x.org", ""]}),
            "emails must not contain blank entries",
        ),
    ] {
        let r = s.post(&format!("{i}/bulk"), fx.adm(), body).await;
        assert_err(&r, 422, "VALIDATION_FAILED", msg);
    }
    assert_eq!(s.get(&i, fx.adm()).await.data().as_array().unwrap().len(), 3);
}

async fn invite_accept(s: &TestServer) {
    let fx = setup(s).await;
    grant(s, &fx, "post", "read", &["viewer"], Value::Null).await;
    post(s, &fx, "p", "sales", "draft", 1).await;
    let (_, token) = invite(s, &fx, "dana@x.org", &["viewer"]).await;

    // Input validation and unknown tokens.
    let acc = fx.url("/auth/accept-invite");
    let r = s.post(&acc, None, json!({"password": "pw"})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "token is required");
    let r = s.post(&acc, None, json!({"token": token})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "password is required");
    let r = s.post(&acc, None, json!({"token": token, "password": ""})).await;
    assert_err(&r, 422, "VALIDATION_FAILED", "password is required");
    let r = accept(s, &fx, "no-such-token", "pw").await;
    assert_err(&r, 404, "NOT_FOUND", "Invalid invite token");
    let r = accept(s, &fx, "00000000-0000-4000-8000-000000000000", "pw").await;
    assert_err(&r, 404, "NOT_FOUND", "Invalid invite token");

    // Accept: 201 with a token pair and the new user.
    let r = accept(s, &fx, &token, "dana-pass").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(keys(r.data()), set(&["access_token", "refresh_token", "user"]));
    let u = r.data()["user"].clone();
    assert_eq!(keys(&u), set(&["id", "email", "roles"]));
    assert_eq!(
        (u["email"].clone(), u["roles"].clone()),
        (json!("dana@x.org"), json!(["viewer"]))
    );
    let uid = u["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&uid).is_ok());
    let access = r.data()["access_token"].as_str().unwrap().to_string();
    let refresh = r.data()["refresh_token"].as_str().unwrap().to_string();
    // The tokens work: the viewer policy applies, the refresh rotates.
    let r = s.get(&fx.url("/post"), Some(&access)).await;
    assert_eq!((r.status, total(&r)), (200, 1));
    let r = s
        .post(&fx.url("/auth/refresh"), None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(r.status, 200);
    // The user exists, active, and can log in with the chosen password.
    let r = s.get(&fx.url(&format!("/_admin/users/{uid}")), fx.adm()).await;
    assert_eq!(
        (
            r.status,
            r.data()["email"].clone(),
            r.data()["roles"].clone(),
            r.data()["active"].clone()
        ),
        (200, json!("dana@x.org"), json!(["viewer"]), json!(true))
    );
    assert_eq!(login(s, &fx, "dana@x.org", "dana-pass").await.status, 200);
    let h = app_sql(
        s,
        &fx,
        "SELECT password_hash FROM _users WHERE email = 'dana@x.org'",
    )
    .await
    .unwrap();
    assert!(h.starts_with("$argon2id$"), "{h}");

    // Single use.
    let r = accept(s, &fx, &token, "other-pass").await;
    assert_err(&r, 400, "VALIDATION_FAILED", "Invite has already been accepted");
    assert_eq!(login(s, &fx, "dana@x.org", "dana-pass").await.status, 200);
    assert_eq!(login(s, &fx, "dana@x.org", "other-pass").await.status, 401);
    // The accepted invite stays listed with accepted_at set.
    let r = s.get(&fx.url("/_admin/invites"), fx.adm()).await;
    let row = &r.data()[0];
    assert_eq!(row["email"], "dana@x.org");
    assert!(row["accepted_at"].is_string(), "{row:?}");
    // And the email cannot be invited again.
    let r = s
        .post(
            &fx.url("/_admin/invites"),
            fx.adm(),
            json!({"email": "dana@x.org"}),
        )
        .await;
    assert_err(&r, 409, "CONFLICT", "A user with this email already exists");

    // Concurrent accepts of one token: exactly one wins.
    let (_, race) = invite(s, &fx, "race@x.org", &[]).await;
    let (r1, r2) = futures::join!(accept(s, &fx, &race, "pw-a"), accept(s, &fx, &race, "pw-b"));
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    assert!(
        statuses == [201, 400] || statuses == [201, 409],
        "one accept wins: {:?} / {:?}",
        r1.body,
        r2.body
    );
    let winner = if r1.status == 201 { "pw-a" } else { "pw-b" };
    let loser = if r1.status == 201 { "pw-b" } else { "pw-a" };
    assert_eq!(login(s, &fx, "race@x.org", winner).await.status, 200);
    assert_eq!(login(s, &fx, "race@x.org", loser).await.status, 401);
    let r = s.get(&fx.url("/_admin/users"), fx.adm()).await;
    assert_eq!(
        r.data()
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["email"] == "race@x.org")
            .count(),
        1
    );

    // The email became a user after the invite: 409, invite left unused.
    let (_, late) = invite(s, &fx, "late@x.org", &["viewer"]).await;
    let r = s
        .post(
            &fx.url("/_admin/users"),
            fx.adm(),
            json!({"email": "late@x.org", "password": "admin-set"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let late_user = r.data()["id"].as_str().unwrap().to_string();
    let r = accept(s, &fx, &late, "mine").await;
    assert_err(&r, 409, "CONFLICT", "A user with this email already exists");
    let r = s.get(&fx.url("/_admin/invites"), fx.adm()).await;
    let row = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["email"] == "late@x.org")
        .unwrap()
        .clone();
    assert_eq!(row["accepted_at"], Value::Null, "not consumed by the 409");
    assert_eq!(login(s, &fx, "late@x.org", "admin-set").await.status, 200);
    assert_eq!(
        s.delete(&fx.url(&format!("/_admin/users/{late_user}")), fx.adm())
            .await
            .status,
        200
    );
    let r = accept(s, &fx, &late, "mine").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(login(s, &fx, "late@x.org", "mine").await.status, 200);
}

async fn invite_expired(s: &TestServer) {
    let fx = setup(s).await;
    let (inv, token) = invite(s, &fx, "exp@x.org", &["viewer"]).await;
    let (_, fresh) = invite(s, &fx, "fresh@x.org", &[]).await;
    app_sql(
        s,
        &fx,
        "UPDATE _invites SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE email = 'exp@x.org'",
    )
    .await;
    let r = accept(s, &fx, &token, "pw").await;
    assert_err(&r, 400, "VALIDATION_FAILED", "Invite has expired");
    let r = login(s, &fx, "exp@x.org", "pw").await;
    assert_err(&r, 401, "UNAUTHORIZED", "Invalid email or password");
    // Still listed, with its past expiry.
    let r = s.get(&fx.url("/_admin/invites"), fx.adm()).await;
    let row = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == json!(inv))
        .expect("expired invite still listed")
        .clone();
    assert!(ts(&row["expires_at"]) < chrono::Utc::now(), "{row:?}");
    assert_eq!(row["accepted_at"], Value::Null);
    // An expired invite is not pending: the email can be invited again.
    let (_, again) = invite(s, &fx, "exp@x.org", &["viewer"]).await;
    let r = s
        .post(
            &fx.url("/_admin/invites/bulk"),
            fx.adm(),
            json!({"emails": ["exp@x.org"]}),
        )
        .await;
    assert_eq!(
        r.data()["skipped"],
        json!([{"email": "exp@x.org", "reason": "A pending invite already exists for this email"}])
    );
    let r = accept(s, &fx, &again, "pw2").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // The expired token stays unusable; an unrelated invite is unaffected.
    let r = accept(s, &fx, &token, "pw").await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_FAILED"));
    assert_eq!(accept(s, &fx, &fresh, "pw3").await.status, 201);
}
