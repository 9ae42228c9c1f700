-- What introspection tells each API client (space-separated claim names), and the audience its
-- tokens must be for (NULL: any). Clients made before claim sets keep what they were told: all.
-- (SQLite cannot drop a column default; the server always writes `claims` itself.)
ALTER TABLE api_clients
    ADD COLUMN claims TEXT NOT NULL
        DEFAULT 'sub username sid exp iat nbf iss aud token_type scope email email_verified user';
ALTER TABLE api_clients ADD COLUMN audience TEXT;
