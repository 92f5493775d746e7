//! Business logic over HTTP: rules, computed fields, state machines, and the
//! admin CRUD of rules, state machines, workflows and webhooks.

use rocket_testkit::{json, store_tests, TestServer};
use serde_json::Value;

store_tests!(
    field_expression_and_computed_rules,
    state_machine_transitions,
    logic_admin_crud,
    before_delete_rules,
);

async fn invoice_app(s: &TestServer) -> (String, String) {
    let app = s.create_app().await;
    let base = format!("/api/{}", app.name);
    let r = s
        .post(&format!("{base}/_admin/entities"), Some(&app.token), json!({"name": "invoice", "table": "invoices",
            "primary_key": {"field": "id", "type": "uuid", "generated": true},
            "fields": [{"name": "id", "type": "uuid"}, {"name": "qty", "type": "int"}, {"name": "price", "type": "decimal"},
                       {"name": "total", "type": "decimal"}, {"name": "code", "type": "string"},
                       {"name": "status", "type": "string"}, {"name": "sent_at", "type": "timestamp"},
                       {"name": "locked", "type": "boolean"}]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (base, app.token)
}

fn id(v: &Value) -> String {
    v["data"]["id"].as_str().unwrap_or_default().to_string()
}

async fn field_expression_and_computed_rules(s: &TestServer) {
    let (base, t) = invoice_app(s).await;
    let t = Some(t.as_str());
    let rule = |def: Value, ty: &str, prio: i64| json!({"entity": "invoice", "hook": "before_write", "type": ty, "definition": def, "priority": prio});
    for (def, ty, prio) in [
        (
            json!({"field": "qty", "operator": "min", "value": "1", "message": "qty must be at least 1"}),
            "field",
            0,
        ),
        (
            json!({"field": "code", "operator": "pattern", "value": "^[A-Z]{3}$"}),
            "field",
            1,
        ),
        (
            json!({"field": "code", "operator": "max_length", "value": 3}),
            "field",
            2,
        ),
        (
            json!({"expression": "record.qty > 100 && record.price > 10", "message": "too big"}),
            "expression",
            3,
        ),
        (
            json!({"field": "total", "expression": "record.qty * record.price"}),
            "computed",
            4,
        ),
    ] {
        let r = s
            .post(&format!("{base}/_admin/rules"), t, rule(def, ty, prio))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.data()["active"], true, "active defaults to true");
    }
    // Field rule: min, all violations of a stage together.
    let r = s
        .post(
            &format!("{base}/invoice"),
            t,
            json!({"qty": 0, "price": 2, "code": "abcd"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"));
    let d = r.body["error"]["details"].as_array().unwrap();
    assert_eq!(
        d[0],
        json!({"field": "qty", "rule": "min", "message": "qty must be at least 1"})
    );
    assert!(d
        .iter()
        .any(|x| x["rule"] == "pattern" && x["message"] == "field code failed pattern validation"));
    assert!(d.iter().any(|x| x["rule"] == "max_length"));
    // Expression rule: true = violation.
    let r = s
        .post(&format!("{base}/invoice"), t, json!({"qty": 200, "price": 20}))
        .await;
    assert_eq!(
        r.body["error"]["details"][0],
        json!({"rule": "expression", "message": "too big"})
    );
    // Computed rule fills the field, overriding the client.
    let r = s
        .post(
            &format!("{base}/invoice"),
            t,
            json!({"qty": 3, "price": 2.5, "total": 1, "code": "ABC"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["total"].as_f64(), Some(7.5));
    // Inactive rules are inert.
    let rules = s.get(&format!("{base}/_admin/rules"), t).await;
    let min_rule = rules
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["definition"]["operator"] == "min")
        .unwrap()
        .clone();
    let mut body = min_rule.clone();
    body["active"] = json!(false);
    let r = s
        .put(
            &format!("{base}/_admin/rules/{}", min_rule["id"].as_str().unwrap()),
            t,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .post(&format!("{base}/invoice"), t, json!({"qty": 0, "price": 1}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // stop_on_fail stops at the first failure.
    let r = s
        .post(
            &format!("{base}/_admin/rules"),
            t,
            rule(
                json!({"field": "price", "operator": "max", "value": 1000, "stop_on_fail": true}),
                "field",
                -1,
            ),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .post(
            &format!("{base}/invoice"),
            t,
            json!({"qty": 0, "price": 5000, "code": "abcd"}),
        )
        .await;
    assert_eq!(
        r.body["error"]["details"].as_array().unwrap().len(),
        1,
        "{:?}",
        r.body
    );
    // Invalid expressions are refused at save time.
    let r = s
        .post(
            &format!("{base}/_admin/rules"),
            t,
            rule(json!({"expression": "record.qty >"}), "expression", 0),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.message().contains("position"), "{}", r.message());
}

async fn state_machine_transitions(s: &TestServer) {
    let (base, t) = invoice_app(s).await;
    let tk = Some(t.as_str());
    let sm = json!({"entity": "invoice", "field": "status", "active": true, "definition": {"initial": "draft", "transitions": [
        {"from": ["draft"], "to": "sent", "guard": "record.total > 0",
         "actions": [{"type": "set_field", "field": "sent_at", "value": "now"}]},
        {"from": "sent", "to": "paid", "roles": ["accountant"]},
        {"from": ["draft", "sent"], "to": "void"}]}});
    let r = s.post(&format!("{base}/_admin/state-machines"), tk, sm).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.data()["definition"]["transitions"][0]["from"],
        "draft",
        "one-element from is a string"
    );
    // Create with a non-initial state.
    let r = s
        .post(&format!("{base}/invoice"), tk, json!({"status": "sent"}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["error"]["details"][0]["message"],
        "Initial state must be 'draft', got 'sent'"
    );
    let inv = s
        .post(
            &format!("{base}/invoice"),
            tk,
            json!({"status": "draft", "total": 0}),
        )
        .await;
    assert_eq!(inv.status, 201);
    let path = format!("{base}/invoice/{}", id(&inv.body));
    // Guard false.
    let r = s.put(&path, tk, json!({"status": "sent", "total": 0})).await;
    assert_eq!(
        r.body["error"]["details"][0]["message"],
        "Transition from 'draft' to 'sent' blocked by guard"
    );
    // Undeclared transition.
    let r = s.put(&path, tk, json!({"status": "paid"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["error"]["details"][0],
        json!({"field": "status", "rule": "state_machine", "message": "Invalid transition from 'draft' to 'paid'"})
    );
    // Valid transition with set_field "now".
    let r = s.put(&path, tk, json!({"status": "sent", "total": 10})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let sent_at = r.data()["sent_at"].as_str().expect("sent_at set");
    assert!(chrono::DateTime::parse_from_rfc3339(sent_at).is_ok());
    // Roles are enforced for non-admins: a clerk may update but not pay.
    let clerk = user(s, &base, tk, "clerk@x.org", &["clerk"]).await;
    for action in ["read", "update"] {
        let r = s
            .post(
                &format!("{base}/_admin/permissions"),
                tk,
                json!({"entity": "invoice", "action": action, "roles": ["clerk", "accountant"]}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = s.put(&path, Some(&clerk), json!({"status": "paid"})).await;
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"), "{:?}", r.body);
    let accountant = user(s, &base, tk, "acc@x.org", &["accountant"]).await;
    let r = s.put(&path, Some(&accountant), json!({"status": "paid"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Absent state field: nothing happens.
    let r = s.put(&path, tk, json!({"qty": 1})).await;
    assert_eq!(r.status, 200);
}

async fn user(s: &TestServer, base: &str, admin: Option<&str>, email: &str, roles: &[&str]) -> String {
    let r = s
        .post(
            &format!("{base}/_admin/users"),
            admin,
            json!({"email": email, "password": "pw-123", "roles": roles}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = s
        .post(
            &format!("{base}/auth/login"),
            None,
            json!({"email": email, "password": "pw-123"}),
        )
        .await;
    r.data()["access_token"].as_str().unwrap().to_string()
}

async fn logic_admin_crud(s: &TestServer) {
    let (base, t) = invoice_app(s).await;
    let t = Some(t.as_str());
    let cases = [
        (
            "rules",
            json!({"entity": "invoice", "hook": "before_write", "type": "field",
                         "definition": {"field": "qty", "operator": "min", "value": 1}, "priority": 1, "active": true}),
        ),
        (
            "state-machines",
            json!({"entity": "invoice", "field": "status",
                                  "definition": {"initial": "a", "transitions": [{"from": "a", "to": "b"}]}, "active": true}),
        ),
        (
            "workflows",
            json!({"name": "wf1", "trigger": {"type": "state_change", "entity": "invoice", "field": "status", "to": "b"},
                             "context": {"record_id": "trigger.record_id"},
                             "steps": [{"id": "s1", "type": "condition", "expression": "context.amount > 5",
                                        "on_true": {"goto": "end"}, "on_false": "end"}], "active": true}),
        ),
        (
            "webhooks",
            json!({"entity": "invoice", "url": "https://example.net/h"}),
        ),
    ];
    for (res, body) in cases {
        let r = s.post(&format!("{base}/_admin/{res}"), t, body.clone()).await;
        assert_eq!(r.status, 201, "{res}: {:?}", r.body);
        let id = id(&r.body);
        assert!(!id.is_empty());
        let list = s.get(&format!("{base}/_admin/{res}"), t).await;
        assert_eq!(list.data().as_array().map(Vec::len), Some(1), "{res}");
        assert!(list.data()[0]["created_at"].is_string());
        let r = s.get(&format!("{base}/_admin/{res}/{id}"), t).await;
        assert_eq!(r.status, 200);
        let r = s.put(&format!("{base}/_admin/{res}/{id}"), t, body).await;
        assert_eq!(r.status, 200, "{res}: {:?}", r.body);
        let r = s.delete(&format!("{base}/_admin/{res}/{id}"), t).await;
        assert_eq!(r.body, json!({"data": {"id": id, "deleted": true}}));
        let r = s.get(&format!("{base}/_admin/{res}/{id}"), t).await;
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{res}");
    }
    // Webhook defaults.
    let r = s
        .post(
            &format!("{base}/_admin/webhooks"),
            t,
            json!({"entity": "invoice", "url": "http://x.test/h"}),
        )
        .await;
    assert_eq!(r.data()["hook"], "after_write");
    assert_eq!(r.data()["method"], "POST");
    assert_eq!(r.data()["async"], true);
    assert_eq!(
        r.data()["retry"],
        json!({"max_attempts": 3, "backoff": "exponential"})
    );
    // Validation messages.
    for (res, body, msg) in [
        (
            "rules",
            json!({"hook": "before_write", "type": "field"}),
            "entity is required",
        ),
        (
            "rules",
            json!({"entity": "ghost", "type": "field"}),
            "entity not found: ghost",
        ),
        (
            "rules",
            json!({"entity": "invoice", "hook": "after_write", "type": "field"}),
            "invalid hook: after_write (must be before_write or before_delete)",
        ),
        (
            "rules",
            json!({"entity": "invoice", "type": "magic"}),
            "invalid rule type: magic (must be field, expression, or computed)",
        ),
        (
            "state-machines",
            json!({"entity": "invoice", "definition": {"transitions": []}}),
            "field is required",
        ),
        (
            "state-machines",
            json!({"entity": "invoice", "field": "status", "definition": {"transitions": []}}),
            "at least one transition is required",
        ),
        (
            "workflows",
            json!({"trigger": {"type": "state_change"}}),
            "workflow name is required",
        ),
        (
            "workflows",
            json!({"name": "w", "trigger": {"entity": "invoice"}, "steps": []}),
            "trigger type is required",
        ),
        (
            "workflows",
            json!({"name": "w", "trigger": {"type": "state_change", "entity": "invoice"}, "steps": []}),
            "at least one step is required",
        ),
        (
            "workflows",
            json!({"name": "w", "trigger": {"type": "state_change", "entity": "invoice"},
                             "steps": [{"id": "a", "type": "action", "then": {"goto": "zz"}}]}),
            "goto target not found: zz",
        ),
        (
            "workflows",
            json!({"name": "w", "trigger": {"type": "state_change", "entity": "invoice"},
                             "steps": [{"id": "a", "type": "loop"}]}),
            "invalid step type: loop (must be action, condition, or approval)",
        ),
        (
            "webhooks",
            json!({"entity": "invoice", "url": "ftp://x"}),
            "url must start with http:// or https://",
        ),
        (
            "webhooks",
            json!({"entity": "invoice", "url": "http://x", "method": "TRACE"}),
            "method must be POST, PUT, PATCH, GET, or DELETE",
        ),
        (
            "webhooks",
            json!({"entity": "invoice", "url": "http://x", "hook": "sometimes"}),
            "hook must be after_write, before_write, after_delete, or before_delete",
        ),
    ] {
        let r = s.post(&format!("{base}/_admin/{res}"), t, body.clone()).await;
        assert_eq!((r.status, r.message()), (422, msg), "{res} {body}");
    }
    // Duplicate workflow name → 409.
    let wf = json!({"name": "dup", "trigger": {"type": "state_change", "entity": "invoice"}, "steps": [{"id": "a", "type": "approval"}]});
    assert_eq!(
        s.post(&format!("{base}/_admin/workflows"), t, wf.clone())
            .await
            .status,
        201
    );
    assert_eq!(
        s.post(&format!("{base}/_admin/workflows"), t, wf).await.code(),
        "CONFLICT"
    );
}

async fn before_delete_rules(s: &TestServer) {
    let (base, t) = invoice_app(s).await;
    let t = Some(t.as_str());
    let r = s
        .post(&format!("{base}/_admin/rules"), t, json!({"entity": "invoice", "hook": "before_delete", "type": "expression",
            "definition": {"expression": "record.locked == true", "message": "locked invoices cannot be deleted"}}))
        .await;
    assert_eq!(r.status, 201);
    let locked = s
        .post(&format!("{base}/invoice"), t, json!({"locked": true}))
        .await;
    let open = s
        .post(&format!("{base}/invoice"), t, json!({"locked": false}))
        .await;
    let r = s.delete(&format!("{base}/invoice/{}", id(&locked.body)), t).await;
    assert_eq!(
        (r.status, r.body["error"]["details"][0]["message"].as_str()),
        (422, Some("locked invoices cannot be deleted"))
    );
    let r = s.delete(&format!("{base}/invoice/{}", id(&open.body)), t).await;
    assert_eq!(r.status, 200);
}
