-- The provider catalogue (catalogue/providers.toml, loaded by `trellis-tokens catalogue`),
-- OAuth apps that an account registers for its family, and the provider-specific fields of
-- the token endpoint's answer kept with each token (docs/tokens.md, "Providers").

-- `catalogue_key`: the catalogue entry a provider comes from ('' for a custom one).
-- `owner_account_id`: the account whose family alone sees the provider; NULL for the
-- operators' providers, which every account sees.
-- `token_parameters`: names of the token answer's fields kept with each token.
ALTER TABLE providers
    ADD COLUMN catalogue_key text NOT NULL DEFAULT ''
        CHECK (char_length(catalogue_key) <= 100),
    ADD COLUMN owner_account_id uuid,
    ADD COLUMN token_parameters text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(token_parameters) <= 20);

-- The catalogue loader upserts the operators' provider of each entry by its key.
CREATE UNIQUE INDEX providers_catalogue_key ON providers (catalogue_key)
    WHERE owner_account_id IS NULL AND catalogue_key <> '';

-- A family's own apps, listed beside the global providers.
CREATE INDEX providers_owner ON providers (owner_account_id, name, id)
    WHERE owner_account_id IS NOT NULL;

-- The token's parameters as the token endpoint last answered them: a JSON object of
-- strings (not secret; at most 20 names, each value at most 2,048 characters).
ALTER TABLE tokens
    ADD COLUMN parameters jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(parameters) = 'object');
