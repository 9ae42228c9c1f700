DROP TABLE oidc_consents;
DROP TABLE oidc_clients;
