//! AI schema generator against a local HTTP server that plays the
//! OpenAI-compatible provider.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rocket_testkit::{json, Store, TestServer};
use serde_json::Value;

/// What the fake provider answers: (status, body).
#[derive(Clone)]
struct Canned(u16, String);

async fn completions(State(c): State<Canned>, Json(req): Json<Value>) -> (StatusCode, String) {
    // The request must follow the protocol.
    assert_eq!(req["response_format"]["type"], "json_object");
    assert_eq!(req["messages"][0]["role"], "system");
    assert_eq!(req["messages"][1]["role"], "user");
    (StatusCode::from_u16(c.0).unwrap(), c.1.clone())
}

async fn provider(status: u16, body: String) -> String {
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(Canned(status, body));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1/")
}

fn content(s: &str) -> String {
    json!({"choices": [{"message": {"role": "assistant", "content": s}}]}).to_string()
}

async fn generate(status: u16, body: String, prompt: &str) -> (u16, Value) {
    let url = provider(status, body).await;
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.ai.base_url = url.clone();
        c.ai.api_key = "k".into();
        c.ai.model = "test-model".into();
    })
    .await
    .unwrap();
    let app = s.create_app().await;
    let st = s
        .get(&format!("/api/{}/_admin/ai/status", app.name), Some(&app.token))
        .await;
    assert_eq!(st.data(), &json!({"configured": true, "model": "test-model"}));
    let r = s
        .post(
            &format!("/api/{}/_admin/ai/generate", app.name),
            Some(&app.token),
            json!({"prompt": prompt}),
        )
        .await;
    let out = (r.status, r.body.clone());
    s.stop().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_adds_version() {
    let (st, body) = generate(
        200,
        content(r#"{"entities": [{"name": "ticket"}]}"#),
        "a help desk",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["schema"]["version"], 1);
    assert_eq!(body["data"]["schema"]["entities"][0]["name"], "ticket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failures_are_502() {
    let (st, body) = generate(500, json!({"error": {"message": "boom"}}).to_string(), "x").await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (502, Some("AI_REQUEST_FAILED"))
    );
    assert_eq!(body["error"]["message"], "AI provider returned 500: boom");
    let (st, body) = generate(200, content("not json at all"), "x").await;
    assert_eq!(st, 502);
    assert_eq!(
        body["error"]["message"],
        "AI returned invalid JSON. Try rephrasing your prompt."
    );
    let (st, body) = generate(200, content(""), "x").await;
    assert_eq!(
        (st, body["error"]["message"].as_str()),
        (502, Some("AI provider returned empty response"))
    );
    let (st, body) = generate(200, "garbage".into(), "x").await;
    assert_eq!(
        (st, body["error"]["message"].as_str()),
        (502, Some("Failed to parse AI response"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_validation_and_unconfigured() {
    let (st, body) = generate(200, content("{}"), "").await;
    assert_eq!(
        (st, body["error"]["message"].as_str()),
        (400, Some("prompt is required"))
    );
    let (st, _) = generate(200, content("{}"), &"x".repeat(5001)).await;
    assert_eq!(st, 400);

    let s = TestServer::start(Store::Sqlite).await.unwrap();
    let app = s.create_app().await;
    let st = s
        .get(&format!("/api/{}/_admin/ai/status", app.name), Some(&app.token))
        .await;
    assert_eq!(st.data(), &json!({"configured": false, "model": ""}));
    let platform = s.platform_token().await;
    let st = s.get("/api/_platform/ai/status", Some(&platform)).await;
    assert_eq!(st.data(), &json!({"configured": false, "model": ""}));
    let r = s
        .post(
            &format!("/api/{}/_admin/ai/generate", app.name),
            Some(&app.token),
            json!({"prompt": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (503, "AI_NOT_CONFIGURED"));
    // Unreachable provider.
    s.stop().await;
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.ai.base_url = "http://127.0.0.1:9".into();
        c.ai.api_key = "k".into();
        c.ai.model = "m".into();
    })
    .await
    .unwrap();
    let app = s.create_app().await;
    let r = s
        .post(
            &format!("/api/{}/_admin/ai/generate", app.name),
            Some(&app.token),
            json!({"prompt": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (502, "AI_REQUEST_FAILED"));
    assert!(
        r.message().starts_with("Failed to connect to AI provider"),
        "{}",
        r.message()
    );
    s.stop().await;
}
