//! Diesel's view of the refresh service's tables (migrations/).

diesel::table! {
    account_activity (account_id) {
        account_id -> Uuid,
        active_until -> Timestamptz,
        last_activity_time -> Timestamptz,
        last_kind -> Text,
        last_user_id -> Text,
        synced_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    instances (data_source_id, instance_key) {
        data_source_id -> Uuid,
        instance_key -> Text,
        account_id -> Uuid,
        resolve_user_id -> Text,
        url -> Text,
        data_source_version -> Int8,
        refresh_interval_ms -> Int8,
        last_fetch_time -> Nullable<Timestamptz>,
        fetched_version -> Int8,
        last_attempt_time -> Nullable<Timestamptz>,
        next_due_time -> Nullable<Timestamptz>,
        consecutive_failures -> Int4,
        last_error -> Text,
        disabled -> Bool,
        backoff_until -> Nullable<Timestamptz>,
        fetch_count -> Int8,
        last_fetch_duration_us -> Nullable<Int8>,
        last_fetch_bytes -> Nullable<Int8>,
        last_fetch_pages -> Nullable<Int4>,
        last_fetch_limit_wait_us -> Nullable<Int8>,
    }
}

diesel::table! {
    refresh_jobs (id) {
        id -> Uuid,
        seq -> Int8,
        data_source_id -> Uuid,
        account_id -> Uuid,
        instance_key -> Text,
        resolve_user_id -> Text,
        trigger -> Text,
        state -> Text,
        front -> Bool,
        enqueue_time -> Timestamptz,
        defer_until -> Nullable<Timestamptz>,
        deferred_on -> Nullable<Text>,
        attempt -> Int4,
        lease_deadline -> Nullable<Timestamptz>,
        finish_time -> Nullable<Timestamptz>,
        error -> Text,
        trace_context -> Nullable<Jsonb>,
        deferrals -> Int4,
        limit_wait_us -> Int8,
        limit_deferred_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_limits (limit_key) {
        limit_key -> Text,
        tat -> Nullable<Timestamptz>,
        deferred_until -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_permits (limit_key, job_id) {
        limit_key -> Text,
        job_id -> Uuid,
        attempt -> Int4,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    fetch_samples (id) {
        id -> Int8,
        data_source_id -> Uuid,
        account_id -> Uuid,
        instance_key -> Text,
        fetch_time -> Timestamptz,
        duration_us -> Int8,
        bytes -> Int8,
        pages -> Int4,
        limit_wait_us -> Int8,
    }
}

diesel::table! {
    cached_data (instance_key) {
        instance_key -> Text,
        format -> Text,
        data -> Jsonb,
        content_hash -> Text,
        size_bytes -> Int8,
        fetch_time -> Timestamptz,
    }
}

diesel::table! {
    report_schedules (id) {
        id -> Uuid,
        account_id -> Uuid,
        name -> Text,
        cron_expression -> Text,
        time_zone -> Text,
        recipients -> Array<Text>,
        klip_ids -> Array<Uuid>,
        dashboard_id -> Nullable<Uuid>,
        lead_time_ms -> Nullable<Int8>,
        user_id -> Text,
        paused -> Bool,
        next_send_time -> Nullable<Timestamptz>,
        prepare_at -> Nullable<Timestamptz>,
        last_send_time -> Nullable<Timestamptz>,
        version -> Int8,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
    }
}

diesel::table! {
    report_deliveries (id) {
        id -> Uuid,
        schedule_id -> Uuid,
        account_id -> Uuid,
        scheduled_time -> Timestamptz,
        stage -> Text,
        status -> Text,
        due_at -> Timestamptz,
        refresh_deadline -> Nullable<Timestamptz>,
        lease_until -> Nullable<Timestamptz>,
        claim -> Int4,
        prepared_at -> Nullable<Timestamptz>,
        plan -> Nullable<Jsonb>,
        recipients -> Array<Text>,
        message -> Nullable<Bytea>,
        attempts -> Int4,
        send_time -> Nullable<Timestamptz>,
        stale_data_sources -> Jsonb,
        error -> Text,
        create_time -> Timestamptz,
    }
}

diesel::joinable!(report_deliveries -> report_schedules (schedule_id));
diesel::allow_tables_to_appear_in_same_query!(report_schedules, report_deliveries);
