ALTER TABLE login_logs DROP COLUMN attempts;
