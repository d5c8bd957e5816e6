-- Commands for the counters' devices (counterd), taken by long poll and answered once each.
CREATE TABLE device_commands (
    id TEXT PRIMARY KEY,
    register_id TEXT NOT NULL,
    command TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'done', 'failed', 'unknown')),
    result TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    completed_at TEXT
);
CREATE INDEX device_commands_register_state ON device_commands (register_id, state, created_at);
