//! The library's tables, as Diesel sees them (the migrations are the source of truth).

diesel::table! {
    accounts (id) {
        id -> Uuid,
        kind -> Text,
        parent_id -> Nullable<Uuid>,
        display_name -> Text,
        revision -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        time_zone -> Text,
    }
}

diesel::table! {
    company_properties (account_id, name) {
        account_id -> Uuid,
        name -> Text,
        value -> Text,
        revision -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    variables (account_id, name) {
        account_id -> Uuid,
        name -> Text,
        default_value -> Text,
        description -> Text,
        revision -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        allowed_values -> Array<Text>,
    }
}

diesel::table! {
    user_variable_values (account_id, user_id, name) {
        account_id -> Uuid,
        name -> Text,
        user_id -> Text,
        value -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    data_sources (id) {
        id -> Uuid,
        account_id -> Uuid,
        name -> Text,
        request -> Jsonb,
        format -> Text,
        auth_kind -> Text,
        credential_id -> Nullable<Uuid>,
        token_id -> Nullable<Uuid>,
        refresh_interval_seconds -> Int8,
        rate_limit_key -> Text,
        template_properties -> Array<Text>,
        version -> Int8,
        fingerprint -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        options -> Jsonb,
    }
}

diesel::table! {
    klips (id) {
        id -> Uuid,
        account_id -> Uuid,
        name -> Text,
        components -> Jsonb,
        variables -> Array<Text>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    klip_bindings (klip_id, position) {
        klip_id -> Uuid,
        account_id -> Uuid,
        position -> Int4,
        data_source_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    dashboards (id) {
        id -> Uuid,
        account_id -> Uuid,
        name -> Text,
        layout -> Jsonb,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    dashboard_klips (dashboard_id, position) {
        dashboard_id -> Uuid,
        account_id -> Uuid,
        position -> Int4,
        klip_id -> Uuid,
    }
}

diesel::table! {
    embeds (id) {
        id -> Text,
        account_id -> Uuid,
        klip_id -> Uuid,
        stale_while_revalidate -> Bool,
        max_age_ms -> Nullable<Int8>,
        seq -> Int8,
        revision -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    embed_renders (embed_id) {
        embed_id -> Text,
        klip_version -> Int8,
        render -> Jsonb,
        rendered_at -> Timestamptz,
        revalidation_started_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    memberships (account_id, user_id) {
        account_id -> Uuid,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(embed_renders -> embeds (embed_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    company_properties,
    variables,
    user_variable_values,
    data_sources,
    klips,
    klip_bindings,
    dashboards,
    dashboard_klips,
    embeds,
    embed_renders,
    users,
    memberships,
);
