//! AI schema generator (semantics.md §21): an OpenAI-compatible
//! chat-completions client that turns a prompt into an import document.
//!
//! It only produces the document; importing it is the admin crate's job.

use std::time::Duration;

use rocket_config::AiConfig;
use rocket_error::{Error, ErrorCode, Result};
use serde_json::{json, Value};

pub const MAX_PROMPT_CHARS: usize = 5000;

fn failed(m: impl Into<String>) -> Error {
    Error::new(ErrorCode::AiRequestFailed, m)
}

pub fn configured(ai: &AiConfig) -> bool {
    !ai.base_url.is_empty() && !ai.api_key.is_empty() && !ai.model.is_empty()
}

/// `{"configured": bool, "model": string}`
pub fn status(ai: &AiConfig) -> Value {
    let ok = configured(ai);
    json!({"configured": ok, "model": if ok { ai.model.as_str() } else { "" }})
}

/// The system prompt: teaches the import format as this server reads it and
/// names the entities that already exist.
pub fn system_prompt(existing: &[String]) -> String {
    let mut p = String::from(
        "You design data models for Rocket, a metadata-driven backend. Answer with ONE JSON object (no prose) in this import format:\n\
{\"version\": 1,\n \"entities\": [{\"name\", \"table\", \"primary_key\": {\"field\": \"id\", \"type\": \"uuid\", \"generated\": true}, \"soft_delete\": bool, \"slug\"?: {\"field\", \"source\"}, \"fields\": [{\"name\", \"type\": string|text|int|bigint|float|decimal|boolean|uuid|timestamp|date|json|file, \"required\"?, \"unique\"?, \"default\"?, \"enum\"?: [..], \"precision\"?, \"auto\"?: \"create\"|\"update\"}]}],\n \"relations\": [{\"name\", \"type\": one_to_one|one_to_many|many_to_many, \"source\", \"target\", \"source_key\": the source primary key (e.g. \"id\"), \"target_key\": the foreign-key field on the target (1:1/1:N), \"join_table\", \"source_join_key\", \"target_join_key\" (many_to_many), \"on_delete\": cascade|set_null|restrict|detach}],\n \"rules\": [{\"entity\", \"hook\": \"before_write\", \"type\": field|expression|computed, \"definition\": {\"field\", \"operator\": min|max|min_length|max_length|pattern, \"value\", \"expression\", \"message\"}, \"priority\": 0, \"active\": true}],\n \"state_machines\": [{\"entity\", \"field\", \"definition\": {\"initial\", \"transitions\": [{\"from\", \"to\", \"guard\"?, \"roles\"?}]}, \"active\": true}],\n \"permissions\": [{\"entity\", \"action\": read|create|update|delete, \"roles\": [..], \"conditions\"?: [{\"field\", \"operator\", \"value\"}]}],\n \"ui_configs\": [{\"entity\" (or \"_app\" for the dashboard), \"scope\": \"default\", \"config\": {\"sidebar\", \"list\", \"detail\", \"form\", \"pages\", \"dashboard\"}}],\n \"sample_data\": {\"<entity name>\": [rows using the declared field names]}}\n\
Rules: identifiers are lowercase snake_case; every entity declares its primary key field and created_at/updated_at timestamps with auto; foreign-key fields are declared on the target entity; expressions use record.<field>, old.<field>, action, and true means a violation for expression rules.",
    );
    if !existing.is_empty() {
        p.push_str("\nThese entities already exist; do not generate them again: ");
        p.push_str(&existing.join(", "));
    }
    p
}

/// Calls the provider; returns the import document with `version` defaulted to 1.
pub async fn generate(ai: &AiConfig, prompt: &str, existing: &[String], timeout: Duration) -> Result<Value> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(Error::invalid_payload("prompt is required"));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(Error::invalid_payload("prompt must be 5000 characters or fewer"));
    }
    if !configured(ai) {
        return Err(Error::new(
            ErrorCode::AiNotConfigured,
            "AI generator is not configured",
        ));
    }
    let url = format!("{}/chat/completions", ai.base_url.trim_end_matches('/'));
    let body = json!({
        "model": ai.model,
        "temperature": 0.3,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": system_prompt(existing)},
            {"role": "user", "content": prompt},
        ],
    });
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| failed(format!("Failed to connect to AI provider: {e}")))?;
    let res = client
        .post(&url)
        .bearer_auth(&ai.api_key)
        .json(&body)
        .send()
        .await
        .map_err(|e| failed(format!("Failed to connect to AI provider: {e}")))?;
    let status = res.status();
    let text = res
        .text()
        .await
        .map_err(|_| failed("Failed to read AI response"))?;
    if !status.is_success() {
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(String::from))
            .unwrap_or(text);
        return Err(failed(format!(
            "AI provider returned {}: {detail}",
            status.as_u16()
        )));
    }
    let parsed: Value = serde_json::from_str(&text).map_err(|_| failed("Failed to parse AI response"))?;
    let content = parsed["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("")
        .trim()
        .to_string();
    if content.is_empty() {
        return Err(failed("AI provider returned empty response"));
    }
    let mut schema: Value = serde_json::from_str(strip_fences(&content))
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| failed("AI returned invalid JSON. Try rephrasing your prompt."))?;
    if schema.get("version").is_none() {
        schema["version"] = json!(1);
    }
    Ok(schema)
}

/// Models sometimes wrap JSON in a Markdown code fence.
fn strip_fences(s: &str) -> &str {
    let s = s.trim();
    let s = s
        .strip_prefix("```json")
        .or_else(|| s.strip_prefix("```"))
        .unwrap_or(s);
    s.strip_suffix("```").unwrap_or(s).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_code_fences() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn status_hides_model_when_unconfigured() {
        let mut ai = AiConfig {
            model: "m".into(),
            ..Default::default()
        };
        assert_eq!(status(&ai), json!({"configured": false, "model": ""}));
        ai.base_url = "http://x".into();
        ai.api_key = "k".into();
        assert_eq!(status(&ai), json!({"configured": true, "model": "m"}));
    }
}
