-- Rate-limited refusals are kept as one row per (address, minute) with their number.
ALTER TABLE login_logs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
