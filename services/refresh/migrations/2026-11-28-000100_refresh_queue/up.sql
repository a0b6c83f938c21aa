-- The refresh service's state (DESIGN.md section 7, rules F1–F5, F8): activity per account,
-- the schedule of every data-source instance, the refresh queue, the API-limit state and the
-- data cache. docs/refresh.md explains the queue and the limits.

-- Activity per account (F2, F4). An account is active while `active_until` is in the future;
-- only the account a user is signed into is recorded, never its partner's clients.
CREATE TABLE account_activity (
    account_id         uuid        PRIMARY KEY,
    active_until       timestamptz NOT NULL,
    last_activity_time timestamptz NOT NULL,
    last_kind          text        NOT NULL,
    last_user_id       text        NOT NULL,
    -- When the account's data sources were last resolved through the library.
    synced_at          timestamptz
);

CREATE INDEX account_activity_active ON account_activity (active_until);

-- One row per data-source instance: a data source resolved for an account (and, for
-- dynamic data sources, a user) into one concrete request, named by the library's instance
-- key (I13). Holds its schedule (F1, F2) and failure state (F8).
CREATE TABLE instances (
    data_source_id       uuid        NOT NULL,
    instance_key         text        NOT NULL,
    account_id           uuid        NOT NULL,
    -- The user whose variable values resolved it; empty when no user value applies.
    resolve_user_id      text        NOT NULL DEFAULT '',
    url                  text        NOT NULL DEFAULT '',
    data_source_version  bigint      NOT NULL DEFAULT 0,
    -- Zero: never on schedule (only RefreshNow and reports refresh it).
    refresh_interval_ms  bigint      NOT NULL DEFAULT 0,
    last_fetch_time      timestamptz,
    -- The data source's version that the cached data was fetched with.
    fetched_version      bigint      NOT NULL DEFAULT 0,
    last_attempt_time    timestamptz,
    -- NULL: not due on schedule (interval zero, or disabled).
    next_due_time        timestamptz,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    last_error           text        NOT NULL DEFAULT '',
    disabled             boolean     NOT NULL DEFAULT false,
    backoff_until        timestamptz,
    -- Successful fetches stored for this instance.
    fetch_count          bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (data_source_id, instance_key)
);

-- The scheduler: due instances of each active account (F2).
CREATE INDEX instances_due ON instances (account_id, next_due_time)
    WHERE NOT disabled AND next_due_time IS NOT NULL;

-- The refresh queue (F3). A job is queued, deferred (F5), running under a lease, or
-- finished. Claims take the queued jobs in (front, seq) order with FOR UPDATE SKIP LOCKED.
CREATE TABLE refresh_jobs (
    id              uuid        PRIMARY KEY,
    -- Enqueue order: FIFO within the front and the normal part of the queue.
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    data_source_id  uuid        NOT NULL,
    account_id      uuid        NOT NULL,
    instance_key    text        NOT NULL,
    resolve_user_id text        NOT NULL DEFAULT '',
    trigger         text        NOT NULL
        CHECK (trigger IN ('activity', 'schedule', 'manual', 'report')),
    state           text        NOT NULL
        CHECK (state IN ('queued', 'deferred', 'running', 'succeeded', 'failed')),
    -- Goes before every normal job: a deferred job whose deferral ended, a reclaimed job,
    -- or (F7) a report's refresh.
    front           boolean     NOT NULL DEFAULT false,
    enqueue_time    timestamptz NOT NULL DEFAULT now(),
    defer_until     timestamptz,
    -- The limit key whose concurrency cap deferred it; a release of that limit's permit
    -- promotes the earliest such job.
    deferred_on     text,
    -- Claims so far: the fencing token of the current lease.
    attempt         integer     NOT NULL DEFAULT 0,
    lease_deadline  timestamptz,
    finish_time     timestamptz,
    error           text        NOT NULL DEFAULT '',
    CHECK (state <> 'running' OR lease_deadline IS NOT NULL),
    CHECK (state <> 'deferred' OR defer_until IS NOT NULL)
);

-- Dedup: at most one waiting or running job per data-source instance.
CREATE UNIQUE INDEX refresh_jobs_one_per_instance ON refresh_jobs (data_source_id, instance_key)
    WHERE state IN ('queued', 'deferred', 'running');
-- The claim: the head of the queue in (front, seq) order.
CREATE INDEX refresh_jobs_claim ON refresh_jobs (front DESC, seq) WHERE state = 'queued';
-- Identical requests waiting beside a claimed job are claimed with it and fetched once.
CREATE INDEX refresh_jobs_queued_instance ON refresh_jobs (instance_key) WHERE state = 'queued';
-- Deferred jobs whose deferral ended, and those waiting on a limit's concurrency.
CREATE INDEX refresh_jobs_deferred ON refresh_jobs (defer_until) WHERE state = 'deferred';
CREATE INDEX refresh_jobs_deferred_on ON refresh_jobs (deferred_on, seq) WHERE state = 'deferred';
-- Expired leases.
CREATE INDEX refresh_jobs_leases ON refresh_jobs (lease_deadline) WHERE state = 'running';
-- An account's waiting jobs (queue positions).
CREATE INDEX refresh_jobs_account ON refresh_jobs (account_id, seq)
    WHERE state IN ('queued', 'deferred');
-- Finished jobs, for status and retention.
CREATE INDEX refresh_jobs_instance_history ON refresh_jobs (data_source_id, instance_key, seq);
CREATE INDEX refresh_jobs_finished ON refresh_jobs (finish_time)
    WHERE state IN ('succeeded', 'failed');

-- Workers LISTEN on `refresh_jobs` and claim when a job becomes queued; polling covers a
-- lost notification. Notifications are sent at commit and deduplicated per transaction,
-- so a login that queues a thousand jobs wakes each worker once.
CREATE FUNCTION refresh_jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('refresh_jobs', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER refresh_jobs_queued
    AFTER INSERT OR UPDATE OF state ON refresh_jobs
    FOR EACH ROW WHEN (NEW.state = 'queued')
    EXECUTE FUNCTION refresh_jobs_notify();

-- API-limit state shared by every replica (F5): one row per limit key (`token:<id>` or
-- `key:<provider>:<rate-limit key>`), locked while a worker decides. `tat` is the GCRA
-- theoretical arrival time: the next request may start at `tat`. `deferred_until` is the
-- start slot promised to the last job deferred by this rate, so that deferred jobs come back
-- one slot apart instead of all at once.
CREATE TABLE api_limits (
    limit_key      text        PRIMARY KEY,
    tat            timestamptz,
    deferred_until timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Concurrency permits: one per running fetch and limit key. They expire with the holder's
-- lease, so a dead worker's permits free themselves.
CREATE TABLE api_permits (
    limit_key  text        NOT NULL REFERENCES api_limits (limit_key) ON DELETE CASCADE,
    job_id     uuid        NOT NULL,
    attempt    integer     NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (limit_key, job_id)
);

CREATE INDEX api_permits_job ON api_permits (job_id);

-- The data cache: the last successful fetch of each instance key. Data sources whose
-- resolved requests are identical share one key and one cached copy.
CREATE TABLE cached_data (
    instance_key text        PRIMARY KEY,
    format       text        NOT NULL CHECK (format IN ('json', 'csv')),
    data         jsonb       NOT NULL,
    content_hash text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    fetch_time   timestamptz NOT NULL
);
