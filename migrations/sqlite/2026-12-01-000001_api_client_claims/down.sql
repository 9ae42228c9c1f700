ALTER TABLE api_clients DROP COLUMN audience;
ALTER TABLE api_clients DROP COLUMN claims;
