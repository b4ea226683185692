-- Webhook signature v2, expand step: the new table lives beside the old secret.
CREATE TABLE webhook_signatures (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    algorithm TEXT NOT NULL DEFAULT 'hmac-sha256',
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
