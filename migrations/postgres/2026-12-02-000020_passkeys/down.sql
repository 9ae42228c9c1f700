DROP TABLE mfa_passkeys;
