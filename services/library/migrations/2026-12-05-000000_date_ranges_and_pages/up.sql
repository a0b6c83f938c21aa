-- An account's time zone, in which the `{date.…}` expressions of its data sources resolve;
-- and what a data source says about its pages, its date range and the limit of its
-- rate-limit key (docs/library.md).

-- An IANA name (`Europe/Berlin`), checked by the service.
ALTER TABLE accounts
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
        CHECK (char_length(time_zone) BETWEEN 1 AND 64);

-- What the data source has of these, each key left out when it has none:
-- {"pagination": {"style": {"kind": "next_link" | "page_number" | "offset" | "cursor", …},
--                 "items_path", "max_pages"},
--  "date_range": {"start", "end"} (date expressions),
--  "rate_limit_key_limit": {"rates": [{"requests", "period_seconds", "period_nanos"}],
--                           "max_concurrent"}}
ALTER TABLE data_sources
    ADD COLUMN options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object');
