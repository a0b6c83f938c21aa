ALTER TABLE credentials DROP COLUMN request_fingerprint;
ALTER TABLE token_grants DROP COLUMN request_fingerprint;
