//! Two nodes on one PostgreSQL management database: a metadata change on one
//! reaches the other through LISTEN/NOTIFY, without restart or polling.

use std::time::{Duration, Instant};

use rocket_testkit::{json, Store, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_changes_reach_other_nodes() {
    let Some(a) = TestServer::start(Store::Postgres).await else {
        return;
    };
    let app = a.create_app().await;
    let b = rocket_server::start(a.config.clone()).await.expect("second node");
    let b_url = format!("http://{}", b.addr);
    let get_b = |path: String| {
        let http = a.http.clone();
        let (url, token) = (b_url.clone(), app.token.clone());
        async move {
            http.get(format!("{url}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Node B serves the app and does not know the entity yet.
    assert_eq!(get_b(format!("/api/{}/gadget", app.name)).await, 404);
    let r = a
        .post(&format!("/api/{}/_admin/entities", app.name), Some(&app.token), json!({"name": "gadget", "table": "gadgets",
            "primary_key": {"field": "id", "type": "uuid", "generated": true}, "fields": [{"name": "id", "type": "uuid"}]}))
        .await;
    assert_eq!(r.status, 201);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get_b(format!("/api/{}/gadget", app.name)).await == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "node B never saw the new entity");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Deleting the app on node A makes node B forget it.
    let platform = a.platform_token().await;
    assert_eq!(
        a.delete(&format!("/api/_platform/apps/{}", app.name), Some(&platform))
            .await
            .status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = a
            .http
            .get(format!("{b_url}/api/{}/gadget", app.name))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        if res.status().as_u16() == 404 && res.text().await.unwrap().contains("APP_NOT_FOUND") {
            break;
        }
        assert!(Instant::now() < deadline, "node B still serves a deleted app");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.stop().await;
    a.stop().await;
}
