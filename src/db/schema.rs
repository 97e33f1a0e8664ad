//! One portable schema for SQLite and PostgreSQL: only BigInt, Integer, Text and Timestamp.

diesel::table! {
    users (id) {
        id -> BigInt,
        uuid -> Text,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        status -> Text,
        token_version -> Integer,
        daily_quota -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        username_key -> Nullable<Text>,
        ban_reason -> Nullable<Text>,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    email_codes (id) {
        id -> BigInt,
        email -> Text,
        purpose -> Text,
        user_id -> BigInt,
        code_hash -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        action -> Text,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        target -> Nullable<Text>,
        uuid -> Nullable<Text>,
    }
}

diesel::joinable!(email_codes -> users (user_id));
diesel::joinable!(audit_log -> users (user_id));

diesel::table! {
    sessions (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    generations (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        status -> Text,
        generation_type -> Text,
        prompt -> Nullable<Text>,
        parameters -> Nullable<Text>,
        provider -> Text,
        model -> Text,
        remote_task_id -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        progress -> Integer,
        error_code -> Nullable<Text>,
        error_detail -> Nullable<Text>,
        result_url -> Nullable<Text>,
        physical_path -> Nullable<Text>,
        result_mime -> Nullable<Text>,
        result_bytes -> Nullable<BigInt>,
        result_sha256 -> Nullable<Text>,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        thumb_path -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        favorite -> Integer,
        result_meta -> Nullable<Text>,
    }
}

diesel::table! {
    collections (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        parent_id -> Nullable<BigInt>,
        parent_key -> BigInt,
        name -> Text,
        node_type -> Text,
        generation_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    generation_tags (generation_id, tag) {
        generation_id -> BigInt,
        user_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    uploads (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        physical_path -> Text,
        mime -> Text,
        width -> Integer,
        height -> Integer,
        bytes -> BigInt,
        sha256 -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_calls (id) {
        id -> BigInt,
        provider -> Text,
        model -> Text,
        generation_id -> Nullable<BigInt>,
        operation -> Text,
        outcome -> Text,
        http_status -> Nullable<Integer>,
        latency_ms -> BigInt,
        created_at -> Timestamp,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    shares (id) {
        id -> BigInt,
        uuid -> Text,
        token -> Text,
        user_id -> BigInt,
        generation_id -> Nullable<BigInt>,
        collection_id -> Nullable<BigInt>,
        password_hash -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        views -> BigInt,
        created_at -> Timestamp,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    moderation_words (id) {
        id -> BigInt,
        uuid -> Text,
        word -> Text,
        norm -> Text,
        lang -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    publications (id) {
        id -> BigInt,
        uuid -> Text,
        generation_id -> BigInt,
        user_id -> BigInt,
        title -> Text,
        description -> Text,
        hide_prompt -> Integer,
        search_text -> Text,
        like_count -> BigInt,
        favorite_count -> BigInt,
        published_at -> Timestamp,
        unpublished_at -> Nullable<Timestamp>,
        unpublish_reason -> Nullable<Text>,
        unpublished_by -> Nullable<BigInt>,
        updated_at -> Timestamp,
        week_likes -> BigInt,
        generation_type -> Text,
        provider -> Text,
        model -> Text,
    }
}

diesel::table! {
    publication_tags (publication_id, tag) {
        publication_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    likes (publication_id, user_id) {
        publication_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    favorites (publication_id, user_id) {
        publication_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    follows (follower_id, followee_id) {
        follower_id -> BigInt,
        followee_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        uuid -> Text,
        publication_id -> BigInt,
        user_id -> BigInt,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    moderation_flags (id) {
        id -> BigInt,
        uuid -> Text,
        generation_id -> BigInt,
        user_id -> BigInt,
        source -> Text,
        service -> Text,
        categories -> Text,
        scores -> Nullable<Text>,
        detail -> Nullable<Text>,
        decision -> Text,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(moderation_flags -> generations (generation_id));
diesel::joinable!(publications -> generations (generation_id));
diesel::joinable!(comments -> users (user_id));
diesel::joinable!(generations -> users (user_id));
diesel::joinable!(uploads -> users (user_id));
diesel::joinable!(api_calls -> generations (generation_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    email_codes,
    audit_log,
    sessions,
    generations,
    uploads,
    api_calls,
    moderation_words,
    publications,
    publication_tags,
    likes,
    favorites,
    follows,
    comments,
    moderation_flags
);

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        uuid -> Text,
        kind -> Text,
        recipient -> Text,
        lang -> Text,
        user_id -> Nullable<BigInt>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

// Monitoring alerts (src/ops/alerts.rs).
diesel::table! {
    ops_incidents (id) {
        id -> BigInt,
        uuid -> Text,
        rule -> Text,
        subject -> Text,
        open_key -> Nullable<Text>,
        value -> BigInt,
        threshold -> BigInt,
        opened_at -> Timestamp,
        last_seen_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

// Keyword search (migration 2026-12-01-000901_search, src/search.rs): the terms of a work and
// of a result. PostgreSQL adds a generated tsvector column that diesel never reads or writes.
diesel::table! {
    publication_search (publication_id) {
        publication_id -> BigInt,
        terms -> Text,
    }
}

diesel::table! {
    generation_search (generation_id) {
        generation_id -> BigInt,
        terms -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(publications, publication_search);
diesel::allow_tables_to_appear_in_same_query!(generations, generation_search);

// Scheduled backups (src/backup/schedule.rs).
diesel::table! {
    backup_schedule (name) {
        name -> Text,
        slot -> BigInt,
        instance -> Nullable<Text>,
        claimed_at -> Timestamp,
    }
}

// Cost (src/catalogue, migration 2026-12-01-001401_charges): one charge per task, refunded at
// most once, and the admins' per-user monthly budgets. Amounts in millionths of the currency.
diesel::table! {
    generation_charges (generation_id) {
        generation_id -> BigInt,
        user_id -> BigInt,
        amount_micros -> BigInt,
        currency -> Text,
        charged_at -> Timestamp,
        refunded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_budgets (user_id) {
        user_id -> BigInt,
        monthly_micros -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(generations, generation_charges);

// A person's prompt templates (migration 2026-12-01-001601, src/prompts).
diesel::table! {
    prompt_templates (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        name -> Text,
        body -> Text,
        negative_prompt -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

// Batches and comparisons (src/groups): a group of a user's tasks, item by item.
diesel::table! {
    task_groups (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        kind -> Text,
        title -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    task_group_items (id) {
        id -> BigInt,
        group_id -> BigInt,
        position -> Integer,
        generation_id -> BigInt,
    }
}

diesel::joinable!(task_group_items -> task_groups (group_id));
diesel::joinable!(task_group_items -> generations (generation_id));
diesel::allow_tables_to_appear_in_same_query!(task_groups, task_group_items, generations);
