-- Passkeys (WebAuthn credentials), several per user, each with a name the user gave it.
-- `credential_id` is the authenticator's id (base64url), unique across all users; `passkey`
-- is webauthn-rs's record of it (public key, signature counter, backup flags) as JSON.
CREATE TABLE mfa_passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX mfa_passkeys_user_id ON mfa_passkeys (user_id);
