-- Import plans (I8): what a destination admin reviewed, frozen with the source versions and
-- fingerprints it saw; `etag` is a hash of that, and executing compares it with the source
-- as it is then.
CREATE TABLE import_plans (
    id                     uuid        PRIMARY KEY,
    destination_account_id uuid        NOT NULL,
    source_account_id      uuid        NOT NULL,
    creator_user_id        text        NOT NULL,
    selection              jsonb       NOT NULL,
    spec                   jsonb       NOT NULL,
    warnings               jsonb       NOT NULL,
    variables              jsonb       NOT NULL DEFAULT '[]',
    etag                   text        NOT NULL,
    import_id              uuid,
    create_time            timestamptz NOT NULL,
    expire_time            timestamptz NOT NULL
);

CREATE INDEX import_plans_destination ON import_plans (destination_account_id, id);

-- Imports: one saga each (DESIGN.md section 2). `state` is the step reached; `progress`
-- holds what the finished steps returned (the clone's id mapping, grants, credential copies),
-- so that a restarted service resumes where the last one stopped.
CREATE TABLE imports (
    id                     uuid        PRIMARY KEY,
    kind                   text        NOT NULL
        CHECK (kind IN ('plan', 'reimport_in_place', 'reimport_new_copy')),
    plan_id                uuid        REFERENCES import_plans (id),
    destination_account_id uuid        NOT NULL,
    source_account_id      uuid        NOT NULL,
    state                  text        NOT NULL
        CHECK (state IN ('pending', 'cloning', 'granting', 'linking', 'succeeded',
                         'compensating', 'compensated', 'failed')),
    spec                   jsonb       NOT NULL,
    progress               jsonb       NOT NULL DEFAULT '{}',
    error                  text        NOT NULL DEFAULT '',
    attempts               integer     NOT NULL DEFAULT 0,
    next_attempt_time      timestamptz NOT NULL,
    creator_user_id        text        NOT NULL,
    create_time            timestamptz NOT NULL,
    update_time            timestamptz NOT NULL,
    end_time               timestamptz
);

CREATE INDEX imports_destination ON imports (destination_account_id, id DESC);
CREATE INDEX imports_source ON imports (source_account_id, id DESC);
-- What the recovery loop looks for.
CREATE INDEX imports_unfinished ON imports (next_attempt_time)
    WHERE state NOT IN ('succeeded', 'compensated', 'failed');

-- Master → instance links (I7, I11), one per instance asset. What the instance was synced
-- to (master version and fingerprint, instance version, the Klip definition it was given,
-- the master data sources behind its bindings, a dashboard's Klip instances) is what
-- statuses, updates, re-imports and deletions work from.
CREATE TABLE instance_links (
    instance_id              uuid        PRIMARY KEY,
    kind                     text        NOT NULL
        CHECK (kind IN ('dashboard', 'klip', 'data_source')),
    account_id               uuid        NOT NULL,
    master_id                uuid        NOT NULL,
    master_account_id        uuid        NOT NULL,
    import_id                uuid        NOT NULL REFERENCES imports (id),
    import_time              timestamptz NOT NULL,
    master_version_at_import bigint      NOT NULL,
    master_version_synced    bigint      NOT NULL,
    master_fingerprint       text        NOT NULL DEFAULT '',
    instance_version_synced  bigint      NOT NULL,
    -- What only some kinds have: a Klip's master data sources (with their instances and
    -- fingerprints) and the definition it was given, a dashboard's Klip instances, a data
    -- source's token grant or credential copy.
    details                  jsonb       NOT NULL DEFAULT '{}',
    last_update_time         timestamptz,
    update_time              timestamptz NOT NULL
);

CREATE INDEX instance_links_master ON instance_links (master_id, account_id, instance_id);
CREATE INDEX instance_links_account ON instance_links (account_id, master_id);

-- Per-instance outcomes of an UpdateInstances call under a request id: a retry reports them
-- and does not update those instances again.
CREATE TABLE update_results (
    scope       text        NOT NULL,
    request_id  text        NOT NULL,
    instance_id uuid        NOT NULL,
    result      bytea       NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, request_id, instance_id)
);
