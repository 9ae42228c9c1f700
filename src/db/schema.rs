// Shared by both backends: only types that PostgreSQL and SQLite both know.

diesel::table! {
    users (id) {
        id -> BigInt,
        uuid -> Text,
        username -> Text,
        nickname -> Text,
        password_hash -> Nullable<Text>,
        email -> Nullable<Text>,
        email_verified -> Bool,
        phone -> Nullable<Text>,
        avatar -> Nullable<Text>,
        status -> Integer,
        is_superuser -> Bool,
        is_staff -> Bool,
        multi_login -> Bool,
        password_changed_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    roles (id) {
        id -> BigInt,
        name -> Text,
        status -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    role_permissions (role_id, code) {
        role_id -> BigInt,
        code -> Text,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::table! {
    user_social (id) {
        id -> BigInt,
        user_id -> BigInt,
        provider -> Text,
        provider_user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_logs (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        username -> Text,
        success -> Bool,
        reason -> Text,
        ip -> Text,
        user_agent -> Text,
        os -> Nullable<Text>,
        browser -> Nullable<Text>,
        device -> Nullable<Text>,
        method -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
    }
}

diesel::table! {
    sessions (sid) {
        sid -> Text,
        user_id -> BigInt,
        live_until -> BigInt,
        record -> Text,
    }
}

diesel::table! {
    session_versions (user_id) {
        user_id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    invalidations (id) {
        id -> BigInt,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_clients (client_id) {
        client_id -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        claims -> Text,
        audience -> Nullable<Text>,
    }
}

diesel::table! {
    imported_users (user_id) {
        user_id -> BigInt,
        source -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    mfa_totp (user_id) {
        user_id -> BigInt,
        secret -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mfa_recovery_codes (user_id, code_hash) {
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mfa_passkeys (id) {
        id -> BigInt,
        user_id -> BigInt,
        credential_id -> Text,
        name -> Text,
        passkey -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oidc_clients (client_id) {
        client_id -> Text,
        secret_hash -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grants -> Text,
        scopes -> Text,
        backchannel_logout_uri -> Nullable<Text>,
        first_party -> Bool,
        id_token_alg -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        resources -> Text,
    }
}

diesel::table! {
    oidc_consents (user_id, client_id) {
        user_id -> BigInt,
        client_id -> Text,
        scopes -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    oidc_logout_queue (id) {
        id -> BigInt,
        client_id -> Text,
        sub -> Text,
        sid -> Text,
        attempts -> Integer,
        next_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_social -> users (user_id));
diesel::joinable!(imported_users -> users (user_id));
diesel::joinable!(mfa_totp -> users (user_id));
diesel::joinable!(mfa_recovery_codes -> users (user_id));
diesel::joinable!(mfa_passkeys -> users (user_id));
diesel::joinable!(oidc_consents -> users (user_id));
diesel::joinable!(oidc_consents -> oidc_clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    roles,
    role_permissions,
    user_roles,
    user_social,
    login_logs,
    sessions,
    session_versions,
    invalidations,
    api_clients,
    imported_users,
    mfa_totp,
    mfa_recovery_codes,
    mfa_passkeys,
    oidc_clients,
    oidc_consents,
    oidc_logout_queue,
);
