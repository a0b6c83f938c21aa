//! The tables of `migrations/`, for Diesel.

diesel::table! {
    import_plans (id) {
        id -> Uuid,
        destination_account_id -> Uuid,
        source_account_id -> Uuid,
        creator_user_id -> Text,
        selection -> Jsonb,
        spec -> Jsonb,
        warnings -> Jsonb,
        variables -> Jsonb,
        etag -> Text,
        import_id -> Nullable<Uuid>,
        create_time -> Timestamptz,
        expire_time -> Timestamptz,
    }
}

diesel::table! {
    imports (id) {
        id -> Uuid,
        kind -> Text,
        plan_id -> Nullable<Uuid>,
        destination_account_id -> Uuid,
        source_account_id -> Uuid,
        state -> Text,
        spec -> Jsonb,
        progress -> Jsonb,
        error -> Text,
        attempts -> Int4,
        next_attempt_time -> Timestamptz,
        creator_user_id -> Text,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        end_time -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    instance_links (instance_id) {
        instance_id -> Uuid,
        kind -> Text,
        account_id -> Uuid,
        master_id -> Uuid,
        master_account_id -> Uuid,
        import_id -> Uuid,
        import_time -> Timestamptz,
        master_version_at_import -> Int8,
        master_version_synced -> Int8,
        master_fingerprint -> Text,
        instance_version_synced -> Int8,
        details -> Jsonb,
        last_update_time -> Nullable<Timestamptz>,
        update_time -> Timestamptz,
    }
}

diesel::table! {
    update_results (scope, request_id, instance_id) {
        scope -> Text,
        request_id -> Text,
        instance_id -> Uuid,
        result -> Bytea,
        create_time -> Timestamptz,
    }
}

diesel::joinable!(instance_links -> imports (import_id));
diesel::allow_tables_to_appear_in_same_query!(import_plans, imports, instance_links);
