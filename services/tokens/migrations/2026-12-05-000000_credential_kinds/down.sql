-- Credentials of the new kinds (and API keys sent in the body) cannot be kept by the old
-- schema: they are deleted.
DELETE FROM credentials
    WHERE kind IN ('login', 'client_credentials', 'signed') OR api_key_placement = 'body';
ALTER TABLE credentials DROP COLUMN api_limit;
ALTER TABLE credentials DROP COLUMN flow;
ALTER TABLE credentials DROP CONSTRAINT credentials_api_key_placement_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_api_key_placement_check
    CHECK (api_key_placement IN ('', 'header', 'query_parameter'));
ALTER TABLE credentials DROP CONSTRAINT credentials_kind_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_kind_check
    CHECK (kind IN ('basic', 'api_key'));
