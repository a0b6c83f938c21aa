-- The token registry (DESIGN.md section 2, rules I5, I6, T1–T3). Every secret column holds a
-- sealed envelope (src/crypto.rs): AES-256-GCM under the key named in the envelope, bound to
-- its table, column and row id. Nothing here is a secret in clear.

-- OAuth 2.0 authorization servers and Trellis's client registration at each.
CREATE TABLE providers (
    id                        uuid        PRIMARY KEY,
    name                      text        NOT NULL,
    authorization_url         text        NOT NULL,
    token_url                 text        NOT NULL,
    revocation_url            text        NOT NULL DEFAULT '',
    userinfo_url              text        NOT NULL DEFAULT '',
    client_id                 text        NOT NULL,
    client_secret             bytea,
    scopes                    text[]      NOT NULL DEFAULT '{}',
    authorization_parameters  jsonb       NOT NULL DEFAULT '{}',
    max_tokens_per_user       integer     NOT NULL DEFAULT 0 CHECK (max_tokens_per_user >= 0),
    warn_tokens_per_user      integer     NOT NULL DEFAULT 0 CHECK (warn_tokens_per_user >= 0),
    -- F5: {"token": ApiLimit, "rate_limit_key": ApiLimit}, read by the refresh service.
    limits                    jsonb       NOT NULL DEFAULT '{}',
    version                   bigint      NOT NULL DEFAULT 1,
    create_time               timestamptz NOT NULL DEFAULT now(),
    update_time               timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX providers_name ON providers (name, id);

-- Connected accounts (T1): what is known about a token, without its secrets.
CREATE TABLE tokens (
    id                  uuid        PRIMARY KEY,
    account_id          uuid        NOT NULL,
    provider_id         uuid        NOT NULL REFERENCES providers (id),
    display_name        text        NOT NULL,
    external_user_id    text        NOT NULL,
    external_user_name  text        NOT NULL DEFAULT '',
    scopes              text[]      NOT NULL DEFAULT '{}',
    status              text        NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'needs_reauthorization', 'invalidated_by_provider', 'revoked')),
    status_message      text        NOT NULL DEFAULT '',
    authorize_time      timestamptz NOT NULL DEFAULT now(),
    version             bigint      NOT NULL DEFAULT 1,
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tokens_account ON tokens (account_id, id);
CREATE INDEX tokens_provider ON tokens (provider_id);

-- The secrets of a token, one row per token. `generation` grows with every refresh and
-- re-authorization; the refresh's final write is conditional on it (docs/tokens.md).
CREATE TABLE token_secrets (
    token_id           uuid        PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    access_token       bytea,
    refresh_token      bytea,
    token_type         text        NOT NULL DEFAULT 'Bearer',
    expire_time        timestamptz,
    generation         bigint      NOT NULL DEFAULT 1,
    last_refresh_time  timestamptz
);

-- I6: one data source of another account may use a token. Not a connected account.
CREATE TABLE token_grants (
    id                  uuid        PRIMARY KEY,
    token_id            uuid        NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    grantee_account_id  uuid        NOT NULL,
    data_source_id      uuid        NOT NULL,
    create_time         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT token_grants_token_data_source UNIQUE (token_id, data_source_id)
);

CREATE INDEX token_grants_grantee ON token_grants (grantee_account_id, id);

-- T2: every token a provider issued to an external user through Trellis's client, in the
-- order issued, as long as the provider presumably still keeps it. A re-authorization keeps
-- the replaced provider token here (`current` false): the provider still counts it.
CREATE TABLE issued_tokens (
    id                bigserial   PRIMARY KEY,
    provider_id       uuid        NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    external_user_id  text        NOT NULL,
    token_id          uuid        REFERENCES tokens (id) ON DELETE SET NULL,
    current           boolean     NOT NULL DEFAULT true,
    issue_time        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX issued_tokens_user ON issued_tokens (provider_id, external_user_id, id);
CREATE INDEX issued_tokens_token ON issued_tokens (token_id);

-- Authorizations begun and not yet completed. The state is a bearer secret: only its
-- SHA-256 is kept, and the PKCE verifier is sealed.
CREATE TABLE pending_authorizations (
    state_hash     bytea       PRIMARY KEY,
    account_id     uuid        NOT NULL,
    provider_id    uuid        NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    token_id       uuid        REFERENCES tokens (id) ON DELETE CASCADE,
    display_name   text        NOT NULL DEFAULT '',
    redirect_uri   text        NOT NULL,
    pkce_verifier  bytea       NOT NULL,
    expire_time    timestamptz NOT NULL,
    create_time    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX pending_authorizations_expire ON pending_authorizations (expire_time);

-- I5: saved basic and API-key credentials. A copy made by an import names the only data
-- source that may use it.
CREATE TABLE credentials (
    id                     uuid        PRIMARY KEY,
    account_id             uuid        NOT NULL,
    display_name           text        NOT NULL,
    kind                   text        NOT NULL CHECK (kind IN ('basic', 'api_key')),
    username               text        NOT NULL DEFAULT '',
    api_key_placement      text        NOT NULL DEFAULT ''
        CHECK (api_key_placement IN ('', 'header', 'query_parameter')),
    api_key_name           text        NOT NULL DEFAULT '',
    secret                 bytea       NOT NULL,
    scoped_data_source_id  uuid,
    source_credential_id   uuid,
    version                bigint      NOT NULL DEFAULT 1,
    create_time            timestamptz NOT NULL DEFAULT now(),
    update_time            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX credentials_account ON credentials (account_id, id);
CREATE UNIQUE INDEX credentials_copy ON credentials (source_credential_id, scoped_data_source_id)
    WHERE source_credential_id IS NOT NULL;
