-- OpenID Connect relying parties: the apps that sign their users in through Portcullis. A
-- confidential client's secret is 256 random bits kept as its SHA-256 digest (as an API
-- client's); a public one (a native or browser app) has none and must use PKCE. The URI and
-- scope lists are space-separated; redirect URIs are matched exactly.
CREATE TABLE oidc_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grants TEXT NOT NULL,
    scopes TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    first_party BOOLEAN NOT NULL,
    id_token_alg TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- What a user let a client see (space-separated scopes), asked once per new scope.
CREATE TABLE oidc_consents (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
