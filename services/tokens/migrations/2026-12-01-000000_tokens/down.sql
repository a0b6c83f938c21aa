DROP TABLE credentials;
DROP TABLE pending_authorizations;
DROP TABLE issued_tokens;
DROP TABLE token_grants;
DROP TABLE token_secrets;
DROP TABLE tokens;
DROP TABLE providers;
