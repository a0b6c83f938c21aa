ALTER TABLE tokens DROP COLUMN parameters;
DROP INDEX providers_owner;
DROP INDEX providers_catalogue_key;
ALTER TABLE providers
    DROP COLUMN token_parameters,
    DROP COLUMN owner_account_id,
    DROP COLUMN catalogue_key;
