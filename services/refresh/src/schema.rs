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
    cached_data (instance_key) {
        instance_key -> Text,
        format -> Text,
        data -> Jsonb,
        content_hash -> Text,
        size_bytes -> Int8,
        fetch_time -> Timestamptz,
    }
}
