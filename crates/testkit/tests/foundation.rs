//! Foundation contract: health, envelopes, platform auth, apps lifecycle,
//! app auth with rotation/logout, dual auth and the 401/404 cases.

use rocket_testkit::{json, store_tests, Method, TestServer};

store_tests!(
    health_and_unknown_routes,
    platform_login_refresh_logout,
    platform_login_failures,
    apps_create_list_get_delete,
    app_create_validation,
    app_auth_flows,
    dual_auth_and_app_resolution,
    malformed_bodies_and_auth_headers,
    apps_survive_restart_of_platform_state,
    metrics_expose_requests_and_pools,
);

async fn metrics_expose_requests_and_pools(s: &TestServer) {
    let app = s.create_app().await;
    s.get("/health", None).await;
    let text = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("rocket_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/health\""), "{text}");
    for g in [
        "rocket_db_pool_size",
        "rocket_db_pool_idle",
        "rocket_db_pool_waiting",
        "rocket_db_pool_timeouts_total",
    ] {
        assert!(
            text.contains(&format!("{g}{{db=\"_management\"}}")),
            "{g} missing"
        );
        assert!(
            text.contains(&format!("{g}{{db=\"{}\"}}", app.name)),
            "{g} for app missing"
        );
    }
}

async fn health_and_unknown_routes(s: &TestServer) {
    let r = s.get("/health", None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ok"})));
    let r = s.get("/health/", None).await;
    assert_eq!(r.status, 200, "trailing slash is not significant");
    let r = s.get("/nope", None).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));
    // An entity path without the app segment names an app that does not exist.
    let r = s.get("/api/customers", None).await;
    assert_eq!((r.status, r.code()), (404, "APP_NOT_FOUND"));
}

async fn platform_login_refresh_logout(s: &TestServer) {
    let r = s
        .post(
            "/api/_platform/auth/login",
            None,
            json!({"email": "platform@localhost", "password": "changeme"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let access = r.data()["access_token"].as_str().unwrap().to_string();
    let refresh = r.data()["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(access.split('.').count(), 3, "access token is a JWT");
    assert!(uuid::Uuid::parse_str(&refresh).is_ok(), "refresh token is a UUID");

    let r = s
        .post(
            "/api/_platform/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, 200);
    let refresh2 = r.data()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh, refresh2);
    // Rotation: the old refresh token is consumed.
    let r = s
        .post(
            "/api/_platform/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (401, "UNAUTHORIZED", "Invalid refresh token")
    );

    let r = s
        .post(
            "/api/_platform/auth/logout",
            None,
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"message": "Logged out"}))
    );
    let r = s
        .post(
            "/api/_platform/auth/logout",
            None,
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(r.status, 200, "logout is idempotent");
    let r = s
        .post(
            "/api/_platform/auth/refresh",
            None,
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = s.post("/api/_platform/auth/refresh", None, json!({})).await;
    assert_eq!((r.status, r.message()), (401, "Refresh token is required"));
    let r = s.post("/api/_platform/auth/logout", None, json!({})).await;
    assert_eq!((r.status, r.message()), (401, "Refresh token is required"));
    let r = s
        .post(
            "/api/_platform/auth/refresh",
            None,
            json!({"refresh_token": "not-a-uuid"}),
        )
        .await;
    assert_eq!((r.status, r.message()), (401, "Invalid refresh token"));

    // The platform token works on platform routes.
    let r = s.get("/api/_platform/apps", Some(&access)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!([]));
}

async fn platform_login_failures(s: &TestServer) {
    for (body, msg) in [
        (
            json!({"email": "platform@localhost", "password": "wrong"}),
            "Invalid email or password",
        ),
        (
            json!({"email": "nobody@localhost", "password": "changeme"}),
            "Invalid email or password",
        ),
        (
            json!({"email": "platform@localhost"}),
            "Email and password are required",
        ),
        (json!({"password": "changeme"}), "Email and password are required"),
    ] {
        let r = s.post("/api/_platform/auth/login", None, body).await;
        assert_eq!((r.status, r.code(), r.message()), (401, "UNAUTHORIZED", msg));
    }
    let r = s.get("/api/_platform/apps", None).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (401, "UNAUTHORIZED", "Missing auth token")
    );
    let r = s.get("/api/_platform/apps", Some("garbage")).await;
    assert_eq!((r.status, r.message()), (401, "Invalid or expired token"));
}

async fn apps_create_list_get_delete(s: &TestServer) {
    let t = s.platform_token().await;
    let name = s.app_name();
    let r = s
        .post(
            "/api/_platform/apps",
            Some(&t),
            json!({"name": name, "display_name": "Shop", "db_driver": s.driver()}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.data(),
        &json!({"name": name, "display_name": "Shop", "db_name": format!("rocket_{name}"),
                "db_driver": s.driver(), "status": "active"})
    );
    let r = s
        .post("/api/_platform/apps", Some(&t), json!({"name": name}))
        .await;
    assert_eq!((r.status, r.code()), (409, "CONFLICT"));

    let r = s.get("/api/_platform/apps", Some(&t)).await;
    let list = r.data().as_array().unwrap();
    assert_eq!(list.len(), 1);
    for key in [
        "name",
        "display_name",
        "db_name",
        "db_driver",
        "status",
        "created_at",
        "updated_at",
    ] {
        assert!(list[0].get(key).is_some(), "app row has {key}");
    }
    let created = list[0]["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "RFC 3339: {created}"
    );

    let r = s.get(&format!("/api/_platform/apps/{name}"), Some(&t)).await;
    assert_eq!((r.status, r.data()["name"].as_str()), (200, Some(name.as_str())));
    let r = s.get("/api/_platform/apps/missing", Some(&t)).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (404, "NOT_FOUND", "App not found")
    );

    let r = s.delete(&format!("/api/_platform/apps/{name}"), Some(&t)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"message": "App deleted"}))
    );
    let r = s.get(&format!("/api/_platform/apps/{name}"), Some(&t)).await;
    assert_eq!(r.status, 404);
    let r = s
        .post(
            &format!("/api/{name}/auth/login"),
            None,
            json!({"email": "admin@localhost", "password": "changeme"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "APP_NOT_FOUND"));
    let r = s.delete(&format!("/api/_platform/apps/{name}"), Some(&t)).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));

    // The name is free again once deleted.
    let r = s
        .post(
            "/api/_platform/apps",
            Some(&t),
            json!({"name": name, "db_driver": s.driver()}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn app_create_validation(s: &TestServer) {
    let t = s.platform_token().await;
    for (body, msg_part) in [
        (json!({}), "App name is required"),
        (json!({"name": "  "}), "App name is required"),
        (json!({"name": "Shop"}), "lowercase"),
        (json!({"name": "1shop"}), "lowercase"),
        (json!({"name": "a b"}), "lowercase"),
        (json!({"name": "x".repeat(64)}), "63"),
        (
            json!({"name": "okname", "db_driver": "oracle"}),
            "db_driver must be 'postgres' or 'sqlite'",
        ),
    ] {
        let r = s.post("/api/_platform/apps", Some(&t), body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "VALIDATION_FAILED"),
            "{body}: {:?}",
            r.body
        );
        assert!(r.message().contains(msg_part), "{body}: {}", r.message());
    }
    // Hyphenated names get a database name PostgreSQL accepts.
    let name = format!("{}-x", s.app_name());
    let r = s
        .post(
            "/api/_platform/apps",
            Some(&t),
            json!({"name": name, "db_driver": s.driver()}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.data()["db_name"],
        json!(format!("rocket_{}", name.replace('-', "_")))
    );
    assert_eq!(
        r.data()["display_name"],
        json!(name),
        "display_name defaults to name"
    );
}

async fn app_auth_flows(s: &TestServer) {
    let app = s.create_app().await;
    let base = format!("/api/{}/auth", app.name);
    let r = s
        .post(
            &format!("{base}/login"),
            None,
            json!({"email": "admin@localhost", "password": "changeme"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let refresh = r.data()["refresh_token"].as_str().unwrap().to_string();
    // The access token carries sub and roles [admin], signed with the app's secret.
    let access = r.data()["access_token"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&base64_decode(payload)).unwrap();
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    let r = s
        .post(
            &format!("{base}/refresh"),
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, 200);
    let refresh2 = r.data()["refresh_token"].as_str().unwrap().to_string();
    let r = s
        .post(
            &format!("{base}/refresh"),
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "UNAUTHORIZED"),
        "old refresh token is consumed"
    );
    let r = s
        .post(
            &format!("{base}/logout"),
            None,
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"message": "Logged out"}))
    );
    let r = s
        .post(
            &format!("{base}/refresh"),
            None,
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(r.status, 401);

    for body in [
        json!({"email": "admin@localhost", "password": "nope"}),
        json!({"email": "ghost@localhost", "password": "changeme"}),
        json!({"email": "admin@localhost"}),
    ] {
        let r = s.post(&format!("{base}/login"), None, body).await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    }
    // Case-insensitive email.
    let r = s
        .post(
            &format!("{base}/login"),
            None,
            json!({"email": "Admin@LocalHost", "password": "changeme"}),
        )
        .await;
    assert_eq!(r.status, 200);
    // An app refresh token is not a platform refresh token.
    let app_refresh = r.data()["refresh_token"].as_str().unwrap();
    let r = s
        .post(
            "/api/_platform/auth/refresh",
            None,
            json!({"refresh_token": app_refresh}),
        )
        .await;
    assert_eq!(r.status, 401);
}

async fn dual_auth_and_app_resolution(s: &TestServer) {
    let app = s.create_app().await;
    let other = s.create_app().await;
    let platform = s.platform_token().await;
    let path = format!("/api/{}/widgets", app.name);

    // App resolution comes before auth.
    let r = s.get("/api/nosuchapp/widgets", None).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (404, "APP_NOT_FOUND", "App not found: nosuchapp")
    );
    // No token / garbage → 401.
    let r = s.get(&path, None).await;
    assert_eq!((r.status, r.message()), (401, "Missing auth token"));
    let r = s.get(&path, Some("garbage")).await;
    assert_eq!((r.status, r.message()), (401, "Invalid or expired token"));
    // App token and platform token are both accepted in the app.
    let r = s.get(&path, Some(&app.token)).await;
    assert_eq!((r.status, r.code()), (404, "UNKNOWN_ENTITY"));
    assert_eq!(r.message(), "Unknown entity: widgets");
    let r = s.get(&path, Some(&platform)).await;
    assert_eq!((r.status, r.code()), (404, "UNKNOWN_ENTITY"));
    // Another app's token is not valid here.
    let r = s.get(&path, Some(&other.token)).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    // An app token is not a platform token.
    let r = s.get("/api/_platform/apps", Some(&app.token)).await;
    assert_eq!(r.status, 401);
    // X-Trace-ID is set.
    assert!(r.headers.get("x-trace-id").is_some());
}

async fn malformed_bodies_and_auth_headers(s: &TestServer) {
    let r = s
        .call_raw(Method::POST, "/api/_platform/auth/login", None, "{not json")
        .await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (400, "INVALID_PAYLOAD", "Invalid JSON body")
    );
    let t = s.platform_token().await;
    let r = s
        .call_raw(Method::POST, "/api/_platform/apps", Some(&t), "[1,2]")
        .await;
    assert_eq!((r.status, r.code()), (400, "INVALID_PAYLOAD"));
    let res = s
        .http
        .get(format!("{}/api/_platform/apps", s.url))
        .header("authorization", format!("Token {t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Invalid auth header format");
    // Scheme word is case-insensitive.
    let res = s
        .http
        .get(format!("{}/api/_platform/apps", s.url))
        .header("authorization", format!("bearer {t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

async fn apps_survive_restart_of_platform_state(s: &TestServer) {
    // A second server on the same management store loads existing apps at start.
    let app = s.create_app().await;
    let second = rocket_server::start(s.config.clone())
        .await
        .expect("second node starts");
    let url = format!("http://{}/api/{}/auth/login", second.addr, app.name);
    let res = s
        .http
        .post(url)
        .json(&json!({"email": "admin@localhost", "password": "changeme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // The app token is valid on the other node: the secret lives in the store.
    let res = s
        .http
        .get(format!("http://{}/api/{}/widgets", second.addr, app.name))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    second.stop().await;
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
