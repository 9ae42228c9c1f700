-- Sessions of the embedded mode (production keeps them in Redis). One row per session, its
-- record as JSON; a version per user makes every change to a user's sessions a
-- compare-and-swap, as the Redis store does with its per-user hash.
CREATE TABLE sessions (
    sid TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL,
    live_until BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_live_until ON sessions (live_until);

CREATE TABLE session_versions (
    user_id BIGINT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);

-- The invalidation log of the embedded mode: every node process (the server, the CLI) appends;
-- the server follows it, so a CLI command reaches a running server.
CREATE TABLE invalidations (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
