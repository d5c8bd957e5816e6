-- The pages' sessions, held by the gateway: the cookie carries a random session id, of which only
-- the SHA-256 is stored here. A session ends at its absolute expiry, after its idle time, at sign-out,
-- when an administrator revokes it, or when its user's token changes (token_sha256 no longer the
-- configured one). Ended sessions are kept (who was signed in when) with the reason.
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    idle_expires_at TEXT NOT NULL,
    absolute_expires_at TEXT NOT NULL,
    ended_at TEXT,
    ended_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_name, ended_at);
