-- API clients: services that call token introspection and follow the event feed. The secret
-- is 256 random bits, kept only as its SHA-256 digest (a slow hash adds nothing to a secret
-- nobody can guess, and would cost every introspection call).
CREATE TABLE api_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
