//! Reducer tests: keys and task results through the pure `update`.

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use shipdeck::app::{Effect, Msg, update};
use shipdeck::config::Config;
use shipdeck::keymap::{Action, Keymap};
use shipdeck::provider::ProviderError;
use shipdeck::state::{Modal, Panel, State};

fn state(read_only: bool) -> State {
    State::from_config(&Config::demo().unwrap(), read_only, Utc::now())
}

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    update(
        state,
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        &Keymap::default(),
    )
    .0
}

#[test]
fn tab_cycles_and_numbers_jump() {
    let mut s = state(false);
    for expected in [
        Panel::Releases,
        Panel::Health,
        Panel::Logs,
        Panel::Secrets,
        Panel::Envs,
    ] {
        key(&mut s, KeyCode::Tab);
        assert_eq!(s.focus, expected);
    }
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.focus, Panel::Secrets);
    key(&mut s, KeyCode::Char('3'));
    assert_eq!(s.focus, Panel::Health);
}

#[test]
fn moving_down_the_grid_walks_services_then_envs() {
    let mut s = state(false);
    key(&mut s, KeyCode::Char('j'));
    assert_eq!((s.env_idx, s.svc_idx), (0, 1));
    key(&mut s, KeyCode::Char('j'));
    assert_eq!((s.env_idx, s.svc_idx), (1, 0));
    key(&mut s, KeyCode::End);
    assert_eq!((s.env_idx, s.svc_idx), (2, 1));
    key(&mut s, KeyCode::Down);
    assert_eq!((s.env_idx, s.svc_idx), (2, 1), "stays on the last row");
}

#[test]
fn disabled_actions_say_why() {
    let mut s = state(true);
    assert_eq!(
        s.disabled(Action::Promote)
            .map(|w| w.to_string())
            .as_deref(),
        Some("shipdeck runs with --read-only")
    );
    key(&mut s, KeyCode::Char('p'));
    let toast = s.toast.clone().unwrap();
    assert!(
        toast.error && toast.text.contains("--read-only"),
        "{}",
        toast.text
    );
    let mut s = state(false);
    s.env_idx = 2;
    assert_eq!(
        s.disabled(Action::Promote)
            .map(|w| w.to_string())
            .as_deref(),
        Some("this env has no promote_to in config")
    );
}

#[test]
fn refresh_is_an_effect_not_io() {
    let mut s = state(false);
    s.env_idx = 1;
    let effects = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
        &Keymap::default(),
    )
    .0;
    assert_eq!(effects, vec![Effect::Refresh { env: 1 }]);
}

#[test]
fn help_opens_and_any_key_closes_and_ctrl_c_always_quits() {
    let mut s = state(false);
    key(&mut s, KeyCode::Char('?'));
    assert_eq!(s.modal, Some(Modal::Help));
    key(&mut s, KeyCode::Char('x'));
    assert_eq!(s.modal, None);
    key(&mut s, KeyCode::Char('/'));
    assert!(s.logs.editing.is_some());
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        &Keymap::default(),
    );
    assert!(s.quit);
}

#[test]
fn paused_log_view_stays_still_while_lines_arrive() {
    let mut s = state(false);
    let lines = |n: usize| (0..n).map(|i| format!("line {i}")).collect::<Vec<_>>();
    update(
        &mut s,
        Msg::LogLines {
            env: 0,
            svc: 0,
            lines: lines(50),
        },
        &Keymap::default(),
    );
    s.focus = Panel::Logs;
    key(&mut s, KeyCode::Char('k'));
    assert!(!s.logs.follow);
    assert_eq!(s.logs.offset, 1);
    update(
        &mut s,
        Msg::LogLines {
            env: 0,
            svc: 0,
            lines: lines(10),
        },
        &Keymap::default(),
    );
    assert_eq!(s.logs.offset, 11, "the same lines stay on screen");
    key(&mut s, KeyCode::End);
    assert!(s.logs.follow);
}

#[test]
fn signals_quit() {
    let mut s = state(false);
    update(&mut s, Msg::Signal("SIGTERM"), &Keymap::default());
    assert!(s.quit);
}

#[test]
fn failed_refresh_keeps_the_last_good_data() {
    let mut s = state(false);
    update(
        &mut s,
        Msg::Secrets {
            env: 0,
            scope: 0,
            result: Ok(vec![]),
        },
        &Keymap::default(),
    );
    update(
        &mut s,
        Msg::Secrets {
            env: 0,
            scope: 0,
            result: Err(ProviderError::Unreachable {
                target: "api.example".into(),
                reason: "timeout \u{1b}[2J".into(),
            }),
        },
        &Keymap::default(),
    );
    assert!(s.envs[0].secrets[0].data().is_some());
    let badge = s.envs[0].secrets[0].badge().unwrap();
    assert!(
        badge.contains("unreachable") && badge.contains("timeout") && !badge.contains('\u{1b}'),
        "{badge}"
    );
}

#[test]
fn a_refused_credential_a_rate_limit_and_a_held_lease_read_differently() {
    let cases = [
        (
            ProviderError::Auth {
                provider: "fly".into(),
                status: 401,
            },
            "credential refused: ",
            "shipdeck auth set fly",
        ),
        (
            ProviderError::RateLimited {
                target: "api.machines.dev".into(),
                retry_after: Some(std::time::Duration::from_secs(30)),
            },
            "rate limited: ",
            "retry after 30s",
        ),
        (
            ProviderError::Held {
                what: "machine 3d8d".into(),
                owner: "lee@acme.dev".into(),
                until: "12:04".into(),
            },
            "held: ",
            "lee@acme.dev",
        ),
    ];
    for (error, lead, words) in cases {
        let mut s = state(false);
        update(
            &mut s,
            Msg::Releases {
                env: 0,
                unit: 0,
                result: Err(error.clone()),
            },
            &Keymap::default(),
        );
        let badge = s.envs[0].releases[0].badge().unwrap();
        assert!(
            badge.starts_with(lead) && badge.contains(words),
            "{error:?}: {badge}"
        );
    }
}

#[test]
fn log_actions_jump_copy_and_export() {
    let mut s = state(false);
    let mut lines: Vec<String> = (0..30)
        .map(|i| format!(r#"{{"level":"info","msg":"ok {i}"}}"#))
        .collect();
    lines[7] = r#"{"level":"error","msg":"first failure \u001b[2J"}"#.into();
    lines[20] = r#"{"level":"error","msg":"second failure"}"#.into();
    update(
        &mut s,
        Msg::LogLines {
            env: 0,
            svc: 0,
            lines: lines.clone(),
        },
        &Keymap::default(),
    );
    s.focus = Panel::Logs;
    key(&mut s, KeyCode::Char('e'));
    assert!(!s.logs.follow);
    assert_eq!(
        s.logs.offset,
        30 - 1 - 7,
        "the first error is the bottom visible line"
    );
    let effects = key(&mut s, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Copy(lines[7].clone())],
        "the raw line is copied verbatim"
    );
    let effects = key(&mut s, KeyCode::Char('E'));
    match effects.as_slice() {
        [
            Effect::Export {
                path,
                lines: exported,
            },
        ] => {
            assert_eq!(exported, &lines, "the whole buffer, not the visible part");
            assert!(path.to_string_lossy().contains("dev-api-"), "{path:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        key(&mut s, KeyCode::Char('!')),
        vec![Effect::ShowLogsCommand { env: 0, svc: 0 }]
    );
}

#[test]
fn resuming_an_interrupted_plan_on_a_protected_env_needs_its_name() {
    use shipdeck::state::{Dialog, InterruptedPlan};
    let mut s = state(false);
    s.dialog = Some(Dialog::Interrupted {
        plans: vec![InterruptedPlan {
            plan_id: "p-1".into(),
            env: "production".into(),
            protected: true,
            summary: "promote of production to v44".into(),
            paused: None,
        }],
        confirm: None,
    });
    let (effects, _) = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE)),
        &Keymap::default(),
    );
    assert!(
        effects.is_empty(),
        "b alone does not roll back a protected env"
    );
    for c in "production".chars() {
        update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            &Keymap::default(),
        );
    }
    let (effects, _) = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        &Keymap::default(),
    );
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Resume { plan_id, mode: shipdeck::engine::ResumeMode::Rollback, typed: Some(t) }] if plan_id == "p-1" && t == "production"
        ),
        "{effects:?}"
    );
}

#[test]
fn a_plan_that_pauses_offers_continue_roll_back_or_abandon_with_its_numbers() {
    use shipdeck::engine::plan::{Plan, PlanAction};
    use shipdeck::engine::{PlanEvent, PlanOutcome, ResumeMode};
    use shipdeck::state::Dialog;
    let mut s = state(false);
    let plan = Plan {
        id: "p-9".into(),
        action: PlanAction::Promote,
        source_env: Some("staging".into()),
        target_env: "production".into(),
        units: Vec::new(),
        stages: Vec::new(),
        steps: Vec::new(),
        on_fail: shipdeck::config::OnFail::Pause,
        migrate_to: None,
        actor: "tester@ci".into(),
        created_at: Utc::now(),
    };
    for event in [
        PlanEvent::Started {
            plan: Box::new(plan),
            from_step: 0,
        },
        PlanEvent::Finished {
            outcome: PlanOutcome::Paused {
                reason: "api error rate 7.1% > 5%".into(),
            },
        },
    ] {
        update(&mut s, Msg::Plan(event), &Keymap::default());
    }
    match &s.dialog {
        Some(Dialog::Interrupted { plans, .. }) => {
            assert_eq!(plans[0].plan_id, "p-9");
            assert_eq!(plans[0].paused.as_deref(), Some("api error rate 7.1% > 5%"));
        }
        other => panic!("{other:?}"),
    }
    // production is protected: x (abandon) asks for its name first.
    assert!(key(&mut s, KeyCode::Char('x')).is_empty());
    for c in "production".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    let effects = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Resume { plan_id, mode: ResumeMode::Abandon, typed: Some(t) }]
                if plan_id == "p-9" && t == "production"
        ),
        "{effects:?}"
    );
}

#[test]
fn a_rotation_cut_short_is_shown_at_start_with_what_to_do() {
    use shipdeck::state::Dialog;
    let mut s = state(false);
    update(
        &mut s,
        Msg::InterruptedRotations(vec![
            "the rotation of `JWT` in `production` started … never finished\u{1b}[2J".into(),
        ]),
        &Keymap::default(),
    );
    match &s.dialog {
        Some(Dialog::Info { title, text }) => {
            assert_eq!(title, "interrupted rotation");
            assert!(text.contains("`JWT` in `production`"), "{text}");
            assert!(!text.contains('\u{1b}'), "sanitised: {text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn quitting_during_a_rotation_asks_first_even_from_its_progress_view() {
    use shipdeck::state::secrets_ui::RotationView;
    let mut s = state(false);
    s.secrets_ui.rotation = Some(RotationView::new(
        "JWT".into(),
        vec!["staging".into(), "production".into()],
        None,
    ));
    key(&mut s, KeyCode::Char('q'));
    assert!(!s.quit, "the first q warns");
    assert!(
        s.toast
            .as_ref()
            .unwrap()
            .text
            .contains("a rotation is running"),
        "{:?}",
        s.toast
    );
    key(&mut s, KeyCode::Char('q'));
    assert!(s.quit, "the second q quits");
}
