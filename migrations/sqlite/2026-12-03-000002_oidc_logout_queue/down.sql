DROP TABLE oidc_logout_queue;
