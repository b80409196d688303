//! Table definitions shared by both backends (kept in step with `migrations/*`).

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    projects (org_id, id) {
        org_id -> Text,
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        org_id -> Nullable<Text>,
        project_id -> Nullable<Text>,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    org_slack_settings (org_id) {
        org_id -> Text,
        send_messages -> Bool,
        threads -> Bool,
        compact_messages -> Bool,
        target_channels -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
        rules -> Text,
        regression_threshold_pct -> Integer,
        charts -> Bool,
        during_load_tests -> Text,
        summary -> Nullable<Text>,
    }
}

diesel::table! {
    project_slack_settings (org_id, project_id) {
        org_id -> Text,
        project_id -> Text,
        send_messages -> Bool,
        threads -> Nullable<Bool>,
        compact_messages -> Nullable<Bool>,
        target_channels -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
        rules -> Text,
        regression_threshold_pct -> Nullable<Integer>,
        charts -> Nullable<Bool>,
        during_load_tests -> Nullable<Text>,
        summary -> Nullable<Text>,
    }
}

diesel::table! {
    slack_installations (id) {
        id -> Text,
        org_id -> Text,
        project_id -> Text,
        team_id -> Text,
        team_name -> Text,
        app_id -> Text,
        bot_user_id -> Text,
        scopes -> Text,
        bot_token -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        installed_by -> Text,
        installed_at -> Timestamp,
        updated_at -> Timestamp,
        refresh_token -> Nullable<Text>,
        token_expires_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        next_probe_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oauth_states (state_hash) {
        state_hash -> Text,
        org_id -> Text,
        project_id -> Text,
        token_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    slack_channels (team_id, channel_id) {
        team_id -> Text,
        channel_id -> Text,
        name -> Text,
        is_private -> Bool,
        is_archived -> Bool,
        is_deleted -> Bool,
        checked_at -> Timestamp,
        event_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    load_tests (id) {
        id -> Text,
        org_id -> Text,
        project_id -> Text,
        name -> Text,
        url -> Nullable<Text>,
        started_by -> Nullable<Text>,
        state -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        definition -> Nullable<Text>,
        definition_name -> Nullable<Text>,
        first_event_at -> Nullable<Timestamp>,
        last_event_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    run_reports (load_test_id) {
        load_test_id -> Text,
        org_id -> Text,
        project_id -> Text,
        definition -> Text,
        name -> Text,
        summary -> Text,
        reported_at -> Timestamp,
        p95_ms -> Nullable<Double>,
        report_url -> Nullable<Text>,
        regression_metric -> Nullable<Text>,
        regression_value -> Nullable<Double>,
        regression_baseline -> Nullable<Double>,
    }
}

diesel::table! {
    summary_tallies (id) {
        id -> Integer,
        since -> Timestamp,
    }
}

diesel::table! {
    baselines (org_id, project_id, definition) {
        org_id -> Text,
        project_id -> Text,
        definition -> Text,
        load_test_id -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    scenarios (id) {
        id -> Text,
        org_id -> Text,
        project_id -> Text,
        name -> Text,
        url -> Nullable<Text>,
        state -> Text,
        failing_since -> Nullable<Timestamp>,
        incident -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        recent_changes -> Text,
        flapping_since -> Nullable<Timestamp>,
        flap_changes -> BigInt,
        ok_since -> Nullable<Timestamp>,
        last_result_at -> Nullable<Timestamp>,
        first_result_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (event_id) {
        event_id -> Text,
        subject_kind -> Text,
        subject_id -> Text,
        org_id -> Text,
        project_id -> Text,
        event_type -> Text,
        occurred_at -> Timestamp,
        payload -> Text,
        resulting_state -> Text,
        received_at -> Timestamp,
        body_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        event_id -> Text,
        org_id -> Text,
        project_id -> Text,
        subject_key -> Text,
        event_type -> Text,
        channel -> Text,
        channel_name -> Nullable<Text>,
        team_id -> Nullable<Text>,
        installation_id -> Nullable<Text>,
        threads -> Bool,
        compact -> Bool,
        status -> Text,
        attempts -> Integer,
        error -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        slack_ts -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        mention -> Nullable<Text>,
        rule -> Nullable<Text>,
        reason -> Nullable<Text>,
        hold_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    holds (id) {
        id -> BigInt,
        org_id -> Text,
        project_id -> Text,
        scenario_id -> Text,
        incident -> BigInt,
        load_test_id -> Text,
        held_since -> Timestamp,
        failing_since -> Timestamp,
        recovered_at -> Nullable<Timestamp>,
        settled_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    slack_threads (subject_key, team_id, channel) {
        subject_key -> Text,
        team_id -> Text,
        channel -> Text,
        parent_ts -> Text,
        card -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    card_edits (subject_key, team_id, channel) {
        subject_key -> Text,
        team_id -> Text,
        channel -> Text,
        slack_channel -> Text,
        installation_id -> Text,
        org_id -> Text,
        project_id -> Text,
        compact -> Bool,
        card -> Text,
        revision -> BigInt,
        due_at -> Timestamp,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    workspace_pacing (team_id, method) {
        team_id -> Text,
        method -> Text,
        next_allowed_at -> Timestamp,
    }
}

diesel::table! {
    channel_pacing (team_id, channel) {
        team_id -> Text,
        channel -> Text,
        next_allowed_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        org_id -> Text,
        project_id -> Nullable<Text>,
        action -> Text,
        details -> Text,
    }
}

diesel::table! {
    ui_sessions (id_hash) {
        id_hash -> Text,
        token_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    test_messages (id) {
        id -> BigInt,
        org_id -> Text,
        project_id -> Text,
        channel -> Text,
        channel_name -> Nullable<Text>,
        team_id -> Nullable<Text>,
        status -> Text,
        error -> Nullable<Text>,
        sent_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    channel_directories (team_id) {
        team_id -> Text,
        status -> Text,
        cursor -> Nullable<Text>,
        pages -> Integer,
        updated_at -> Timestamp,
        pass_started_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    scenario_controls (scenario_id) {
        scenario_id -> Text,
        org_id -> Text,
        project_id -> Text,
        incident -> BigInt,
        acked_by_id -> Nullable<Text>,
        acked_by -> Nullable<Text>,
        acked_at -> Nullable<Timestamp>,
        muted_by_id -> Nullable<Text>,
        muted_by -> Nullable<Text>,
        muted_at -> Nullable<Timestamp>,
        muted_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        mute_comment -> Nullable<Text>,
    }
}

diesel::table! {
    slack_actions (action_key) {
        action_key -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    maintenance_windows (id) {
        id -> BigInt,
        org_id -> Text,
        project_id -> Text,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        weekly_days -> Nullable<Text>,
        weekly_from -> Nullable<Text>,
        weekly_to -> Nullable<Text>,
        timezone -> Nullable<Text>,
        scenarios -> Nullable<Text>,
        reason -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    maintenance_holds (scenario_id, incident) {
        scenario_id -> Text,
        incident -> BigInt,
        org_id -> Text,
        project_id -> Text,
        window_id -> BigInt,
        reason -> Text,
        until_at -> Timestamp,
        opened_inside -> Bool,
        failing_since -> Nullable<Timestamp>,
        event_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    summaries (org_id, project_id, period_end) {
        org_id -> Text,
        project_id -> Text,
        period_end -> Timestamp,
        period_start -> Timestamp,
        event_id -> Text,
        manual -> Bool,
        created_at -> Timestamp,
    }
}
diesel::joinable!(scenario_controls -> scenarios (scenario_id));

diesel::allow_tables_to_appear_in_same_query!(
    summaries,
    summary_tallies,
    run_reports,
    baselines,
    scenario_controls,
    slack_actions,
    channel_directories,
    organizations,
    projects,
    api_tokens,
    org_slack_settings,
    project_slack_settings,
    slack_installations,
    oauth_states,
    slack_channels,
    load_tests,
    scenarios,
    events,
    deliveries,
    slack_threads,
    card_edits,
    workspace_pacing,
    channel_pacing,
    audit_log,
    ui_sessions,
    test_messages,
    maintenance_windows,
    maintenance_holds,
    holds,
);
