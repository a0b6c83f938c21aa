-- Embeds (F6): published, read-only views of one Klip each, reached by an unguessable id,
-- and the render cache each embed is served from.

CREATE TABLE embeds (
    -- 192 random bits in base64url without padding: whoever has the id can view the Klip.
    id                      text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{32}$'),
    account_id              uuid        NOT NULL,
    klip_id                 uuid        NOT NULL,
    stale_while_revalidate  boolean     NOT NULL DEFAULT false,
    -- How long a render is served from the cache; NULL is the service's default
    -- (TRELLIS_EMBED_MAX_AGE, three hours), so changing the setting reaches these embeds.
    max_age_ms              bigint      CHECK (max_age_ms > 0),
    -- Ids are random: pages follow this creation order instead.
    seq                     bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision                bigint      NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL DEFAULT now(),
    -- Deleting the Klip (or its account) revokes its embeds.
    FOREIGN KEY (account_id, klip_id) REFERENCES klips (account_id, id) ON DELETE CASCADE
);

CREATE INDEX embeds_account_seq ON embeds (account_id, seq);
CREATE INDEX embeds_klip_id ON embeds (klip_id);

-- The last render of each embed. Revoking the embed drops it.
CREATE TABLE embed_renders (
    embed_id                 text        PRIMARY KEY REFERENCES embeds (id) ON DELETE CASCADE,
    -- The Klip version rendered: a render of an older version is not served as fresh.
    klip_version             bigint      NOT NULL,
    -- The rendered values, errors and freshness (the library's `Render` as JSON).
    render                   jsonb       NOT NULL CHECK (jsonb_typeof(render) = 'object'),
    -- By the library's clock, which decides the render's age.
    rendered_at              timestamptz NOT NULL,
    -- Set while a background re-render (stale-while-revalidate) runs, so that concurrent
    -- views, on any replica, start one at most per lease.
    revalidation_started_at  timestamptz
);
