-- Back-channel logout notices waiting to be delivered (OpenID Connect Back-Channel Logout 1.0):
-- one per client and ended session (the unique pair: however many nodes saw the session end,
-- the client hears once). A node takes a row by moving its next_at forward (compare-and-set),
-- so one node sends each try; a delivered or given-up notice is deleted. Times are Unix seconds.
CREATE TABLE oidc_logout_queue (
    id BIGSERIAL PRIMARY KEY,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX oidc_logout_queue_once ON oidc_logout_queue (client_id, sid);
CREATE INDEX oidc_logout_queue_due ON oidc_logout_queue (next_at);
