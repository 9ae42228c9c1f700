-- Second factors. A TOTP secret is kept sealed with an AEAD under `mfa.encryption_key` (never
-- in the clear); it counts only once confirmed. `last_step` is the last 30-second step whose
-- code was accepted: a code of that step or an earlier one is refused (RFC 6238 §5.2).
CREATE TABLE mfa_totp (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    confirmed_at TIMESTAMP,
    last_step BIGINT,
    created_at TIMESTAMP NOT NULL
);
-- Recovery codes: single-use, kept as SHA-256 digests (each has 60 random bits).
CREATE TABLE mfa_recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
