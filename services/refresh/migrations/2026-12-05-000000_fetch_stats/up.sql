-- Fetch observability: what each successful refresh took (its duration, the bytes and pages
-- it read, the time it waited for API limits), the last figures on the instance and each
-- fetch as a sample, from which GetRefreshStatus computes a data source's fetch metrics.

-- The time a job waited for this service's API limits (F5): deferrals by a limit are added
-- up when the job is granted (from `limit_deferred_at`, the start of the current one).
ALTER TABLE refresh_jobs
    ADD COLUMN limit_wait_us bigint NOT NULL DEFAULT 0,
    ADD COLUMN limit_deferred_at timestamptz;

-- The last successful fetch's figures; NULL before the first.
ALTER TABLE instances
    ADD COLUMN last_fetch_duration_us bigint,
    ADD COLUMN last_fetch_bytes bigint,
    ADD COLUMN last_fetch_pages integer,
    ADD COLUMN last_fetch_limit_wait_us bigint;

-- One row per successful fetch of a data source in an account, kept 7 days (pruned as
-- samples are added).
CREATE TABLE fetch_samples (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data_source_id uuid NOT NULL,
    account_id uuid NOT NULL,
    instance_key text NOT NULL,
    fetch_time timestamptz NOT NULL,
    duration_us bigint NOT NULL CHECK (duration_us >= 0),
    bytes bigint NOT NULL CHECK (bytes >= 0),
    pages integer NOT NULL CHECK (pages >= 0),
    limit_wait_us bigint NOT NULL CHECK (limit_wait_us >= 0)
);

-- A data source's most recent samples (the metrics), and the oldest (the pruning).
CREATE INDEX fetch_samples_recent ON fetch_samples (data_source_id, account_id, fetch_time DESC);
CREATE INDEX fetch_samples_age ON fetch_samples (fetch_time);
