-- Saved credentials of more kinds: two-step login, OAuth 2.0 client credentials and signed
-- requests, and API keys sent in the body. `flow` holds the kind's non-secret configuration
-- (the login request, the token endpoint, the signing scheme) as JSON; its one secret stays
-- sealed in `secret`. `api_limit` is the API's limit for requests made with the credential
-- (F5), shared by its copies; NULL when it has none. Existing rows stay valid: their kinds
-- and placements are still allowed and both new columns are NULL.
ALTER TABLE credentials DROP CONSTRAINT credentials_kind_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_kind_check
    CHECK (kind IN ('basic', 'api_key', 'login', 'client_credentials', 'signed'));
ALTER TABLE credentials DROP CONSTRAINT credentials_api_key_placement_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_api_key_placement_check
    CHECK (api_key_placement IN ('', 'header', 'query_parameter', 'body'));
ALTER TABLE credentials ADD COLUMN flow jsonb
    CHECK (flow IS NULL OR jsonb_typeof(flow) = 'object');
ALTER TABLE credentials ADD COLUMN api_limit jsonb
    CHECK (api_limit IS NULL OR jsonb_typeof(api_limit) = 'object');
