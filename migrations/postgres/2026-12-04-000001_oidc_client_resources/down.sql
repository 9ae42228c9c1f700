ALTER TABLE oidc_clients DROP COLUMN resources;
