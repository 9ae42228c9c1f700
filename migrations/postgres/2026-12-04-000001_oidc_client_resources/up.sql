-- The APIs (RFC 8707 resource indicators, absolute URIs) a client may ask tokens for, besides
-- itself; space-separated. An access token for one has that URI as its audience.
ALTER TABLE oidc_clients ADD COLUMN resources TEXT NOT NULL DEFAULT '';
