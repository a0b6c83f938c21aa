//! Diesel's view of the tables in `migrations/`.

diesel::table! {
    providers (id) {
        id -> Uuid,
        name -> Text,
        authorization_url -> Text,
        token_url -> Text,
        revocation_url -> Text,
        userinfo_url -> Text,
        client_id -> Text,
        client_secret -> Nullable<Bytea>,
        scopes -> Array<Text>,
        authorization_parameters -> Jsonb,
        max_tokens_per_user -> Int4,
        warn_tokens_per_user -> Int4,
        limits -> Jsonb,
        version -> Int8,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        catalogue_key -> Text,
        owner_account_id -> Nullable<Uuid>,
        token_parameters -> Array<Text>,
    }
}

diesel::table! {
    tokens (id) {
        id -> Uuid,
        account_id -> Uuid,
        provider_id -> Uuid,
        display_name -> Text,
        external_user_id -> Text,
        external_user_name -> Text,
        scopes -> Array<Text>,
        status -> Text,
        status_message -> Text,
        authorize_time -> Timestamptz,
        version -> Int8,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        parameters -> Jsonb,
    }
}

diesel::table! {
    token_secrets (token_id) {
        token_id -> Uuid,
        access_token -> Nullable<Bytea>,
        refresh_token -> Nullable<Bytea>,
        token_type -> Text,
        expire_time -> Nullable<Timestamptz>,
        generation -> Int8,
        last_refresh_time -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    token_grants (id) {
        id -> Uuid,
        token_id -> Uuid,
        grantee_account_id -> Uuid,
        data_source_id -> Uuid,
        create_time -> Timestamptz,
        request_fingerprint -> Text,
    }
}

diesel::table! {
    issued_tokens (id) {
        id -> Int8,
        provider_id -> Uuid,
        external_user_id -> Text,
        token_id -> Nullable<Uuid>,
        current -> Bool,
        issue_time -> Timestamptz,
    }
}

diesel::table! {
    pending_authorizations (state_hash) {
        state_hash -> Bytea,
        account_id -> Uuid,
        provider_id -> Uuid,
        token_id -> Nullable<Uuid>,
        display_name -> Text,
        redirect_uri -> Text,
        pkce_verifier -> Bytea,
        expire_time -> Timestamptz,
        create_time -> Timestamptz,
    }
}

diesel::table! {
    credentials (id) {
        id -> Uuid,
        account_id -> Uuid,
        display_name -> Text,
        kind -> Text,
        username -> Text,
        api_key_placement -> Text,
        api_key_name -> Text,
        secret -> Bytea,
        scoped_data_source_id -> Nullable<Uuid>,
        source_credential_id -> Nullable<Uuid>,
        version -> Int8,
        create_time -> Timestamptz,
        update_time -> Timestamptz,
        request_fingerprint -> Text,
        flow -> Nullable<Jsonb>,
        api_limit -> Nullable<Jsonb>,
    }
}

diesel::joinable!(tokens -> providers (provider_id));
diesel::joinable!(token_secrets -> tokens (token_id));
diesel::joinable!(token_grants -> tokens (token_id));

diesel::allow_tables_to_appear_in_same_query!(
    providers,
    tokens,
    token_secrets,
    token_grants,
    issued_tokens,
    pending_authorizations,
    credentials,
);
