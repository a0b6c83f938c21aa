-- The asset library (DESIGN.md sections 1 and 2): accounts and the partner tree, company
-- properties, variables and user values, data sources, Klips and dashboards.
--
-- Every asset belongs to one account and goes with it (ON DELETE CASCADE). References
-- between assets carry the account too (composite foreign keys on (account_id, id)), so the
-- database itself refuses a Klip bound to another account's data source or a dashboard
-- showing another account's Klip.
--
-- Ids are UUIDv7 minted by the service: time-ordered, so keyset pages by id come in
-- creation order.

CREATE TABLE accounts (
    id            uuid        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('partner', 'client', 'standard')),
    -- The partner of a client; deleting a partner (with force) deletes its clients.
    parent_id     uuid        REFERENCES accounts (id) ON DELETE CASCADE,
    display_name  text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    -- Grows with every change; the etag derives from it.
    revision      bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_parent_iff_client CHECK ((kind = 'client') = (parent_id IS NOT NULL)),
    CONSTRAINT accounts_not_own_parent CHECK (parent_id <> id)
);

CREATE INDEX accounts_parent_id ON accounts (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_kind ON accounts (kind, id);

-- `{props.NAME}` values of an account (I13).
CREATE TABLE company_properties (
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
    value       text        NOT NULL CHECK (octet_length(value) <= 8192),
    revision    bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, name)
);

CREATE TABLE variables (
    account_id     uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           text        NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
    default_value  text        NOT NULL CHECK (octet_length(default_value) <= 8192),
    description    text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
    revision       bigint      NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, name)
);

-- One user's value of a variable (a user input control); goes with the variable.
CREATE TABLE user_variable_values (
    account_id  uuid        NOT NULL,
    name        text        NOT NULL,
    user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 256),
    value       text        NOT NULL CHECK (octet_length(value) <= 8192),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id, name),
    FOREIGN KEY (account_id, name) REFERENCES variables (account_id, name) ON DELETE CASCADE
);

CREATE INDEX user_variable_values_variable ON user_variable_values (account_id, name);

CREATE TABLE data_sources (
    id                        uuid        PRIMARY KEY,
    account_id                uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                      text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- The templated HTTP request: {"method", "url", "headers": [{"name", "value"}], "body"}.
    request                   jsonb       NOT NULL CHECK (jsonb_typeof(request) = 'object'),
    format                    text        NOT NULL CHECK (format IN ('json', 'csv')),
    auth_kind                 text        NOT NULL CHECK (auth_kind IN ('none', 'credential', 'oauth_token')),
    credential_id             uuid,
    token_id                  uuid,
    -- 0: never on schedule (only explicit and email-report refreshes, F7).
    refresh_interval_seconds  bigint      NOT NULL DEFAULT 0
        CHECK (refresh_interval_seconds = 0 OR refresh_interval_seconds BETWEEN 60 AND 604800),
    rate_limit_key            text        NOT NULL DEFAULT '' CHECK (char_length(rate_limit_key) <= 200),
    -- Every {props.NAME} of the templates, sorted (I4, I13).
    template_properties       text[]      NOT NULL DEFAULT '{}',
    version                   bigint      NOT NULL DEFAULT 1,
    fingerprint               text        NOT NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT data_sources_auth CHECK (
        (auth_kind = 'none' AND credential_id IS NULL AND token_id IS NULL)
        OR (auth_kind = 'credential' AND credential_id IS NOT NULL AND token_id IS NULL)
        OR (auth_kind = 'oauth_token' AND token_id IS NOT NULL AND credential_id IS NULL)
    ),
    CONSTRAINT data_sources_account_id UNIQUE (account_id, id)
);

-- "Who uses this token / credential" across accounts (T3).
CREATE INDEX data_sources_token_id ON data_sources (token_id, id) WHERE token_id IS NOT NULL;
CREATE INDEX data_sources_credential_id ON data_sources (credential_id, id)
    WHERE credential_id IS NOT NULL;

CREATE TABLE klips (
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- [{"name": ..., "formula": ...}, ...] in display order.
    components  jsonb       NOT NULL DEFAULT '[]',
    -- Variable names the formulas use, sorted (I4).
    variables   text[]      NOT NULL DEFAULT '{}',
    version     bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT klips_account_id UNIQUE (account_id, id)
);

-- Binding `position` is `@position` in formulas. A data source deleted with force leaves its
-- bindings dangling (NULL), rendered as errors.
CREATE TABLE klip_bindings (
    klip_id         uuid    NOT NULL,
    account_id      uuid    NOT NULL,
    position        integer NOT NULL CHECK (position >= 0),
    data_source_id  uuid,
    PRIMARY KEY (klip_id, position),
    FOREIGN KEY (account_id, klip_id) REFERENCES klips (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, data_source_id) REFERENCES data_sources (account_id, id)
        ON DELETE SET NULL (data_source_id)
);

CREATE INDEX klip_bindings_data_source_id ON klip_bindings (data_source_id)
    WHERE data_source_id IS NOT NULL;

CREATE TABLE dashboards (
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    layout      jsonb       NOT NULL DEFAULT '{}',
    version     bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dashboards_account_id UNIQUE (account_id, id)
);

-- The Klips of a dashboard in order; deleting a Klip removes it from its dashboards.
CREATE TABLE dashboard_klips (
    dashboard_id  uuid    NOT NULL,
    account_id    uuid    NOT NULL,
    position      integer NOT NULL CHECK (position >= 0),
    klip_id       uuid    NOT NULL,
    PRIMARY KEY (dashboard_id, position),
    CONSTRAINT dashboard_klips_once UNIQUE (dashboard_id, klip_id),
    FOREIGN KEY (account_id, dashboard_id) REFERENCES dashboards (account_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (account_id, klip_id) REFERENCES klips (account_id, id) ON DELETE CASCADE
);

CREATE INDEX dashboard_klips_klip_id ON dashboard_klips (klip_id);
