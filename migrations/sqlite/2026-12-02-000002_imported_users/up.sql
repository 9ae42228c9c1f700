-- Which local users an import created, and from where: an import matches an incoming row's
-- uuid only against these, so a row that carries a local account's uuid cannot take it over.
-- Users created by an import before this table existed are not listed (nothing says which
-- they were); such a row is then reported as a conflict, never merged.
CREATE TABLE imported_users (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
