-- Scheduled email reports (F7) and the trace context of queued jobs. docs/refresh.md
-- ("Email reports") explains the report loop.

-- The W3C trace context (`traceparent`, `tracestate`) of the call that queued a job, so that
-- the worker's fetch continues the caller's trace. NULL for jobs queued by the scheduler.
ALTER TABLE refresh_jobs ADD COLUMN trace_context jsonb;

-- A report schedule: what to send (Klips, or a dashboard's Klips), to whom and when (a cron
-- expression read in a time zone). `prepare_at` is when the next send's refreshes are due to
-- be queued (next_send_time minus the lead time); it is cleared once they are, and while the
-- schedule is paused.
CREATE TABLE report_schedules (
    id              uuid        PRIMARY KEY,
    account_id      uuid        NOT NULL,
    name            text        NOT NULL,
    cron_expression text        NOT NULL,
    -- IANA name; empty means UTC.
    time_zone       text        NOT NULL DEFAULT '',
    recipients      text[]      NOT NULL,
    -- The target: Klips in report order, or a dashboard (exactly one of the two).
    klip_ids        uuid[]      NOT NULL DEFAULT '{}',
    dashboard_id    uuid,
    -- NULL: the service's default lead time.
    lead_time_ms    bigint,
    -- The user whose variable values render the report; empty for none.
    user_id         text        NOT NULL DEFAULT '',
    paused          boolean     NOT NULL DEFAULT false,
    next_send_time  timestamptz,
    prepare_at      timestamptz,
    last_send_time  timestamptz,
    -- Grows with every change a caller makes; the etag is derived from it.
    version         bigint      NOT NULL DEFAULT 1,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now(),
    CHECK ((dashboard_id IS NULL) <> (cardinality(klip_ids) = 0)),
    CHECK (NOT paused OR (next_send_time IS NULL AND prepare_at IS NULL))
);

-- ListReportSchedules, in creation order (ids are UUIDv7).
CREATE INDEX report_schedules_account ON report_schedules (account_id, id);
-- The report loop: schedules whose refreshes are due to be queued.
CREATE INDEX report_schedules_prepare ON report_schedules (prepare_at)
    WHERE prepare_at IS NOT NULL;

-- One send of a schedule, and the work queue of the report loop. A delivery is prepared
-- (its data sources queued at the front, F7), then sent at its scheduled time, then done.
-- Any replica claims a due step with FOR UPDATE SKIP LOCKED under a lease; `claim` grows with
-- every claim and fences what the claimer writes afterwards.
CREATE TABLE report_deliveries (
    id                 uuid        PRIMARY KEY,
    schedule_id        uuid        NOT NULL REFERENCES report_schedules (id) ON DELETE CASCADE,
    account_id         uuid        NOT NULL,
    -- The send time the schedule called for: one delivery per scheduled send.
    scheduled_time     timestamptz NOT NULL,
    stage              text        NOT NULL CHECK (stage IN ('prepare', 'send', 'done')),
    status             text        NOT NULL
        CHECK (status IN ('refreshing', 'sent', 'failed', 'skipped')),
    -- When its next step may run: preparing at once, sending at the scheduled time,
    -- a retry after its backoff.
    due_at             timestamptz NOT NULL,
    -- A delivery prepared after its scheduled time (the service was down) waits for its
    -- refreshes until then, at most a lead time.
    refresh_deadline   timestamptz,
    lease_until        timestamptz,
    claim              integer     NOT NULL DEFAULT 0,
    prepared_at        timestamptz,
    -- What was refreshed for it: its Klips, their data sources and refresh jobs.
    plan               jsonb,
    recipients         text[]      NOT NULL DEFAULT '{}',
    -- The email as first built; retries resend exactly this.
    message            bytea,
    attempts           integer     NOT NULL DEFAULT 0,
    send_time          timestamptz,
    stale_data_sources jsonb       NOT NULL DEFAULT '[]',
    error              text        NOT NULL DEFAULT '',
    create_time        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (schedule_id, scheduled_time)
);

-- The report loop's claim: steps due, in due order.
CREATE INDEX report_deliveries_due ON report_deliveries (due_at) WHERE stage <> 'done';
