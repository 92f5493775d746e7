-- V3 (SQLite): per-webhook signing secrets (Standard Webhooks), kept apart
-- from _webhooks so that no read, export or list of webhooks can carry
-- them. `previous` still signs until `previous_until` (rotation).
CREATE TABLE IF NOT EXISTS _webhook_secrets (
    webhook_id TEXT PRIMARY KEY REFERENCES _webhooks(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    previous TEXT,
    previous_until TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS idx_webhook_logs_webhook ON _webhook_logs(webhook_id, created_at DESC);
