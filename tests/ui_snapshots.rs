//! Full-screen snapshots of every panel focus and the help overlay, rendered
//! through `ui::draw` into ratatui's TestBackend from a deterministic state.

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use shipdeck::app::{Msg, update};
use shipdeck::config::Config;
use shipdeck::domain::{Release, ReleaseStatus, SecretMeta};
use shipdeck::health::health_json::parse_health;
use shipdeck::health::prometheus::{Quantile, Window};
use shipdeck::keymap::Keymap;
use shipdeck::state::{Load, Panel, State};
use shipdeck::ui::{self, theme::Theme};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap()
}

fn release(v: u64, status: ReleaseStatus, hours: i64, desc: &str) -> Release {
    Release {
        id: format!("v{v}"),
        version: Some(v),
        artifact: Some(shipdeck::domain::Artifact::image(&format!(
            "ghcr.io/acme/shop:2026.11.{v}@sha256:{:064x}",
            v * 7919
        ))),
        status,
        raw_status: status.label().into(),
        author: Some("maria@acme.dev".into()),
        description: desc.into(),
        created_at: now() - chrono::Duration::hours(hours),
        current: status == ReleaseStatus::Live,
    }
}

fn secret(name: &str, digest: &str) -> SecretMeta {
    SecretMeta {
        name: name.into(),
        digest: Some(digest.into()),
        updated_at: Some(now() - chrono::Duration::days(3)),
        staged: false,
        write_only: false,
    }
}

/// A populated state: staging degraded, production healthy, a hostile log line.
fn populated() -> State {
    let cfg = Config::demo().unwrap();
    let mut state = State::from_config(&cfg, false, now());
    for env in &mut state.envs {
        for svc in &mut env.services {
            svc.has_health = true;
            svc.has_metrics = true;
        }
    }
    let healthy = br#"{"status":"pass","version":"v41","checks":{"database:responseTime":[{"status":"pass","observedValue":3.1,"observedUnit":"ms"}],"redis:responseTime":[{"status":"pass","observedValue":0.8,"observedUnit":"ms"}]}}"#;
    let failing = br#"{"status":"fail","version":"v44","checks":{"database:responseTime":[{"status":"pass","observedValue":2.9,"observedUnit":"ms"}],"storage:responseTime":[{"status":"fail","observedValue":5000,"observedUnit":"ms","output":"s3: PutObject eu-west-1: RequestTimeout after 5000ms"}]}}"#;
    for (e, env) in state.envs.iter_mut().enumerate() {
        let bad = env.name == "staging";
        let (head, hist) = match env.name.as_str() {
            "dev" => (45, 44),
            "staging" => (44, 43),
            _ => (41, 40),
        };
        let history = Load::Loaded {
            data: vec![
                release(
                    head,
                    ReleaseStatus::Live,
                    2,
                    if bad {
                        "feat: switch uploads to storage client v2"
                    } else {
                        "fix: checkout retries on upstream 502"
                    },
                ),
                release(
                    hist,
                    ReleaseStatus::Superseded,
                    30,
                    "chore: weekly dependency updates",
                ),
                release(
                    hist - 1,
                    ReleaseStatus::Superseded,
                    60,
                    "perf: cache product search for 30s",
                ),
            ],
            at: now(),
        };
        env.releases = env.releases.iter().map(|_| history.clone()).collect();
        let mut secrets = vec![
            secret("DATABASE_URL", &format!("{e}a1b2c3d4e5f6a7b")),
            secret("SENTRY_DSN", "5e5e5e5e5e5e5e5e"),
        ];
        if env.name != "production" {
            secrets.push(secret("RESEND_API_KEY", "77aa77aa77aa77aa"));
        }
        env.secrets = vec![Load::Loaded {
            data: secrets,
            at: now(),
        }];
        for (i, svc) in env.services.iter_mut().enumerate() {
            let body: &[u8] = if bad && i == 0 { failing } else { healthy };
            let code = if bad && i == 0 { 503 } else { 200 };
            svc.apply_probe(
                parse_health(code, Some("application/health+json"), body),
                4,
                true,
                now() - chrono::Duration::seconds(1),
            );
            svc.apply_window(Window {
                seconds: 2.0,
                request_rate: 40.0,
                error_rate: Some(if bad { 0.0712 } else { 0.0004 }),
                p50: Some(Quantile {
                    seconds: 0.035,
                    clipped: false,
                }),
                p95: Some(Quantile {
                    seconds: if bad { 0.61 } else { 0.094 },
                    clipped: false,
                }),
                p99: Some(Quantile {
                    seconds: 0.2,
                    clipped: false,
                }),
                reset: false,
            });
        }
    }
    let lines = [
        r#"{"level":30,"time":1795598400000,"msg":"request completed","res":{"statusCode":200},"req":{"method":"GET","url":"/api/v1/orders"}}"#.to_string(),
        r#"{"level":40,"time":1795598401000,"msg":"slow query: 812ms SELECT orders"}"#.to_string(),
        r#"{"level":50,"time":1795598402000,"msg":"storage: PutObject eu-west-1: RequestTimeout after 5000ms","res":{"statusCode":503}}"#.to_string(),
        "{\"level\":40,\"time\":1795598403000,\"msg\":\"suspicious user agent\",\"ua\":\"\\u001b]52;c;Y3VybA==\\u0007\\u001b]0;pwned\\u0007\\u001b[2J\\u0007\\u009bcurl\"}".to_string(),
        "ts=2026-11-25T09:20:04.000Z level=info msg=\"rendered page\" path=/checkout status=200 duration_ms=31.5".to_string(),
    ];
    let _ = update(
        &mut state,
        Msg::LogLines {
            env: 1,
            svc: 0,
            lines: lines.to_vec(),
        },
        &Keymap::default(),
    );
    state.env_idx = 1;
    state
}

fn render(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| ui::draw(f, state, &Theme::load("dark").unwrap(), &Keymap::default()))
        .unwrap();
    terminal
}

fn press(state: &mut State, code: KeyCode) {
    let _ = update(
        state,
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        &Keymap::default(),
    );
}

#[test]
fn every_panel_focus_at_80x24_and_200x50() {
    for (w, h) in [(80, 24), (200, 50)] {
        for panel in Panel::ORDER {
            let mut state = populated();
            state.focus = panel;
            let name = format!("{}_{w}x{h}", panel.title().to_lowercase());
            insta::assert_snapshot!(name, render(&state, w, h).backend());
        }
    }
}

#[test]
fn help_overlay_at_80x24_and_200x50() {
    for (w, h) in [(80, 24), (200, 50)] {
        let mut state = populated();
        press(&mut state, KeyCode::Char('?'));
        insta::assert_snapshot!(format!("help_{w}x{h}"), render(&state, w, h).backend());
    }
}

#[test]
fn first_frame_from_config_alone() {
    let state = State::from_config(&Config::demo().unwrap(), false, now());
    insta::assert_snapshot!("first_frame_120x30", render(&state, 120, 30).backend());
}

#[test]
fn tiny_and_odd_sizes_never_panic() {
    let mut state = populated();
    for (w, h) in [(20, 5), (1, 1), (0, 0), (5, 40), (300, 3), (33, 9)] {
        for panel in Panel::ORDER {
            state.focus = panel;
            render(&state, w, h);
        }
        press(&mut state, KeyCode::Char('?'));
        render(&state, w, h);
        press(&mut state, KeyCode::Esc);
        press(&mut state, KeyCode::Char('c'));
        render(&state, w, h);
        press(&mut state, KeyCode::Esc);
    }
}

#[test]
fn hostile_log_line_reaches_the_screen_without_control_characters() {
    let mut state = populated();
    state.focus = Panel::Logs;
    let terminal = render(&state, 200, 50);
    let buffer = terminal.backend().buffer();
    let screen: String = buffer.content().iter().map(|c| c.symbol()).collect();
    assert!(
        screen.contains("suspicious user agent"),
        "the line must be shown"
    );
    assert!(
        screen.contains("⟨OSC 52⟩"),
        "the clipboard write is shown as a visible marker"
    );
    for cell in buffer.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "control character in cell {:?}",
            cell.symbol()
        );
    }
    // The log buffer itself holds no control character in what gets drawn.
    let buf = state.buffer().unwrap();
    for i in 0..buf.visible_len() {
        let entry = buf.visible(i).unwrap();
        assert!(
            !entry.display().text.chars().any(char::is_control),
            "{:?}",
            entry.display().text
        );
    }
}

#[test]
fn filter_covers_lines_outside_the_visible_window() {
    let mut state = populated();
    let lines: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"level":"info","msg":"line {i}"}}"#))
        .collect();
    let _ = update(
        &mut state,
        Msg::LogLines {
            env: 1,
            svc: 0,
            lines,
        },
        &Keymap::default(),
    );
    press(&mut state, KeyCode::Char('/'));
    for c in "slow query".chars() {
        press(&mut state, KeyCode::Char(c));
    }
    press(&mut state, KeyCode::Enter);
    let buf = state.buffer().unwrap();
    assert_eq!(
        buf.visible_len(),
        1,
        "the match is 2000 lines above the bottom"
    );
    let terminal = render(&state, 120, 30);
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(screen.contains("slow query: 812ms"));
    assert!(screen.contains("filter \"slow\" \"query\" 1/"), "{screen}");

    // A bad query keeps what was typed and says what is wrong.
    press(&mut state, KeyCode::Char('/'));
    for c in " /(oops/".chars() {
        press(&mut state, KeyCode::Char(c));
    }
    press(&mut state, KeyCode::Enter);
    assert!(
        state
            .logs
            .editing
            .as_deref()
            .is_some_and(|t| t.ends_with("/(oops/")),
        "the typed text is kept"
    );
    assert!(
        state
            .toast
            .as_ref()
            .is_some_and(|t| t.error && t.text.contains("regex"))
    );
    press(&mut state, KeyCode::Esc);

    // Field comparison with context lines, like grep -C.
    press(&mut state, KeyCode::Char('/'));
    for _ in 0..40 {
        press(&mut state, KeyCode::Backspace);
    }
    for c in "res.statusCode>=500".chars() {
        press(&mut state, KeyCode::Char(c));
    }
    press(&mut state, KeyCode::Enter);
    assert_eq!(state.buffer().unwrap().visible_len(), 1);
    press(&mut state, KeyCode::Char('C'));
    let terminal = render(&state, 120, 30);
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        screen.contains("±2 lines")
            && screen.contains("PutObject")
            && screen.contains("slow query"),
        "{screen}"
    );
}

fn demo_plan(state: &State) -> shipdeck::engine::plan::Plan {
    let cfg = Config::demo().unwrap();
    let prod = state.envs.iter().find(|e| e.name == "production").unwrap();
    let staging = state.envs.iter().find(|e| e.name == "staging").unwrap();
    let units: Vec<shipdeck::engine::plan::UnitPlan> = ["api", "web"]
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let source = staging.current_release(s).unwrap().clone();
            shipdeck::engine::plan::UnitPlan {
                services: vec![name.to_string()],
                remote: "production".into(),
                scope: Some(name.to_string()),
                artifact: source.artifact.clone().unwrap(),
                release: Some(source),
                previous: prod.current_release(s).cloned(),
                unchanged: false,
            }
        })
        .collect();
    let prod_cfg = cfg.env("production").unwrap();
    let stages = shipdeck::engine::plan::stages_for(prod_cfg, &units);
    shipdeck::engine::plan::Plan {
        id: "p-20261125T093000-beef".into(),
        action: shipdeck::engine::plan::PlanAction::Promote,
        source_env: Some("staging".into()),
        target_env: "production".into(),
        steps: shipdeck::engine::plan::promote_steps(prod_cfg, stages.len()),
        units,
        stages,
        on_fail: shipdeck::config::OnFail::Rollback,
        migrate_to: None,
        actor: "maria@laptop".into(),
        created_at: now(),
    }
}

#[test]
fn promotion_dialog_with_typed_confirmation() {
    let mut state = populated();
    let plan = demo_plan(&state);
    let changes = plan
        .units
        .iter()
        .map(|u| shipdeck::engine::UnitChange {
            services: u.services.clone(),
            from_release: u.previous.as_ref().map(|r| r.label()),
            from: u
                .previous
                .as_ref()
                .and_then(|r| r.artifact.as_ref())
                .map(|a| a.full()),
            to_release: u.release.as_ref().map(|r| r.label()),
            to: u.artifact.full(),
            unchanged: false,
        })
        .collect();
    let preview = shipdeck::engine::Preview {
        changes,
        secrets_missing: vec!["RESEND_API_KEY".into()],
        notes: vec![
            "secrets in `staging` but not in `production`: RESEND_API_KEY".into(),
            "no migrate_command configured: no migration step".into(),
        ],
        protected: true,
        plan,
    };
    state.dialog = Some(shipdeck::state::Dialog::Confirm {
        preview: Box::new(preview),
        typed: String::new(),
    });
    for c in "produc".chars() {
        press(&mut state, KeyCode::Char(c));
    }
    press(&mut state, KeyCode::Enter);
    assert!(
        matches!(state.dialog, Some(shipdeck::state::Dialog::Confirm { .. })),
        "a partial name does not confirm"
    );
    insta::assert_snapshot!("promote_confirm_120x36", render(&state, 120, 36).backend());
    for c in "tion".chars() {
        press(&mut state, KeyCode::Char(c));
    }
    let effects = update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        &Keymap::default(),
    )
    .0;
    assert!(
        matches!(effects.as_slice(), [shipdeck::app::Effect::RunPlan { typed: Some(t), .. }] if t == "production")
    );
}

#[test]
fn live_step_ladder_with_gate_figures() {
    let mut state = populated();
    let plan = demo_plan(&state);
    let keymap = Keymap::default();
    let send = |state: &mut State, event: shipdeck::engine::PlanEvent| {
        let _ = update(state, Msg::Plan(event), &keymap);
    };
    use shipdeck::engine::{PlanEvent, StepStatus};
    let started = |index: usize| PlanEvent::StepStarted {
        index,
        step: String::new(),
        stage: None,
        services: Vec::new(),
    };
    send(
        &mut state,
        PlanEvent::Started {
            plan: Box::new(plan),
            from_step: 0,
        },
    );
    state.rollout_visible = true;
    for (i, detail) in [
        "held by maria@laptop (pid 4242, promote)",
        "v41 → v44",
        "no migrate_command configured",
        "v42 is live",
        "4 instance(s) up in 3.1s",
    ]
    .iter()
    .enumerate()
    {
        send(&mut state, started(i));
        let status = if i == 2 {
            StepStatus::Skipped
        } else {
            StepStatus::Ok
        };
        send(
            &mut state,
            PlanEvent::StepFinished {
                index: i,
                step: String::new(),
                stage: None,
                services: Vec::new(),
                status,
                detail: detail.to_string(),
                took_ms: 120 + 700 * i as u64,
            },
        );
    }
    send(&mut state, started(5));
    send(
        &mut state,
        PlanEvent::Gate {
            index: 5,
            passes: 0,
            failures: 1,
            figures: vec!["api err 7.12% p95 610ms".into(), "web err 2.90% p95 455ms".into()],
            failing: vec!["api health Degraded: storage:responseTime (s3: PutObject eu-west-1: RequestTimeout after 5000ms)".into()],
        },
    );
    insta::assert_snapshot!("ladder_running_120x36", render(&state, 120, 36).backend());
    send(
        &mut state,
        PlanEvent::Reverting {
            reason: "2 failing sample(s), budget 1".into(),
        },
    );
    send(
        &mut state,
        PlanEvent::Finished {
            outcome: shipdeck::engine::PlanOutcome::RolledBack {
                reason: "2 failing sample(s), budget 1: api error rate 7.12% > 1.00%".into(),
            },
        },
    );
    insta::assert_snapshot!(
        "ladder_rolled_back_120x36",
        render(&state, 120, 36).backend()
    );
}

fn press_key(state: &mut State, code: KeyCode, mods: KeyModifiers) -> Vec<shipdeck::app::Effect> {
    update(
        state,
        Msg::Key(KeyEvent::new(code, mods)),
        &Keymap::default(),
    )
    .0
}

fn type_text(state: &mut State, text: &str) {
    for c in text.chars() {
        press(state, KeyCode::Char(c));
    }
}

fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect()
}

#[test]
fn secret_rotation_form_masks_the_value_and_asks_for_production() {
    let mut state = populated();
    state.focus = Panel::Secrets;
    press(&mut state, KeyCode::Char('r'));
    assert!(state.secrets_ui.form.is_some(), "r opens the rotation form");
    type_text(&mut state, "hunter2-but-longer-value");
    let terminal = render(&state, 120, 36);
    let screen = screen_text(&terminal);
    assert!(!screen.contains("hunter2"), "the value is masked");
    assert!(screen.contains("••••••••"));
    insta::assert_snapshot!("secret_rotate_form_120x36", terminal.backend());

    // Enter without the typed confirmation stays in the form and says why.
    let effects = press_key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert!(effects.is_empty());
    assert!(screen_text(&render(&state, 120, 36)).contains("type `production`"));

    // Reveal shows it (sanitised); then confirm and submit.
    press_key(&mut state, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(screen_text(&render(&state, 120, 36)).contains("hunter2-but-longer-value"));
    type_text(&mut state, "production");
    let effects = press_key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    match effects.as_slice() {
        [shipdeck::app::Effect::Rotate { req, typed }] => {
            assert_eq!(req.envs, ["staging", "production"]);
            assert_eq!(req.value.expose(), "hunter2-but-longer-value");
            assert_eq!(typed, &["production".to_string()]);
        }
        other => panic!("expected a rotation, got {other:?}"),
    }
    assert!(state.secrets_ui.form.is_none());
}

#[test]
fn rotation_progress_and_a_failed_gate_offer_restore() {
    use shipdeck::engine::StepStatus;
    use shipdeck::engine::rotate::{RotationEvent, RotationOutcome, RotationStep};
    let mut state = populated();
    state.secrets_ui.rotation = Some(shipdeck::state::secrets_ui::RotationView::new(
        "JWT_SECRET_KEY".into(),
        vec!["staging".into(), "production".into()],
        Some(shipdeck::secrets::SecretValue::new(
            "previous-value-0123456789".into(),
        )),
    ));
    let send = |state: &mut State, e: RotationEvent| {
        let _ = update(state, Msg::Rotation(e), &Keymap::default());
    };
    for (step, detail) in [
        (RotationStep::Set, "JWT_SECRET_KEY staged"),
        (RotationStep::Apply, "applied as v45"),
        (RotationStep::Wait, "3 instance(s) up in 3.0s"),
    ] {
        send(
            &mut state,
            RotationEvent::StepStarted {
                env: "staging".into(),
                step,
            },
        );
        send(
            &mut state,
            RotationEvent::StepFinished {
                env: "staging".into(),
                step,
                status: StepStatus::Ok,
                detail: detail.into(),
            },
        );
    }
    send(
        &mut state,
        RotationEvent::StepStarted {
            env: "staging".into(),
            step: RotationStep::Gate,
        },
    );
    send(
        &mut state,
        RotationEvent::StepFinished {
            env: "staging".into(),
            step: RotationStep::Gate,
            status: StepStatus::Failed,
            detail: "2 failing sample(s), budget 1: api health Degraded: config:valid (JWT_SECRET_KEY is 13 bytes; at least 32 required)".into(),
        },
    );
    send(
        &mut state,
        RotationEvent::Finished {
            outcome: RotationOutcome::GateFailed {
                env: "staging".into(),
                reason: "2 failing sample(s), budget 1".into(),
                rotated: vec![],
                untouched: vec!["production".into()],
                restored: false,
                can_restore: true,
            },
        },
    );
    insta::assert_snapshot!(
        "secret_rotation_failed_120x30",
        render(&state, 120, 30).backend()
    );
    let effects = press_key(&mut state, KeyCode::Char('r'), KeyModifiers::NONE);
    assert!(
        matches!(effects.as_slice(), [shipdeck::app::Effect::RestoreSecret { env, .. }] if env == "staging"),
        "{effects:?}"
    );
}

#[test]
fn unset_on_a_protected_env_needs_its_name() {
    let mut state = populated();
    state.env_idx = 2; // production
    state.focus = Panel::Secrets;
    press(&mut state, KeyCode::Char('d'));
    insta::assert_snapshot!(
        "secret_unset_protected_100x24",
        render(&state, 100, 24).backend()
    );
    assert!(press_key(&mut state, KeyCode::Enter, KeyModifiers::NONE).is_empty());
    type_text(&mut state, "production");
    let effects = press_key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(effects.as_slice(), [shipdeck::app::Effect::SecretUnset { typed: Some(t), .. }] if t == "production"),
        "{effects:?}"
    );
}

#[test]
fn read_only_disables_secret_actions_with_a_reason() {
    let mut state = populated();
    state.read_only = true;
    state.focus = Panel::Secrets;
    press(&mut state, KeyCode::Char('e'));
    assert!(state.secrets_ui.form.is_none());
    assert!(state.toast.as_ref().unwrap().text.contains("--read-only"));
}

#[test]
fn releases_border_says_where_each_credential_comes_from() {
    use shipdeck::credentials::CredentialOrigin;
    use shipdeck::domain::CredentialSource;
    let cfg = Config::parse_str(
        r#"
[[env]]
name = "production"
provider = "fly"
protected = true
fly = { app = "shop-production" }

[env.migrations]
dir = "migrations"
"#,
        std::path::Path::new("fly.toml"),
    )
    .unwrap();
    let mut state = State::from_config(&cfg, false, now());
    state.focus = Panel::Releases;
    // Until the keyring answers (off the UI loop), the panel says so.
    assert!(screen_text(&render(&state, 120, 24)).contains("credentials: checking…"));

    let origins = vec![
        CredentialOrigin {
            what: "fly token".into(),
            name: "fly".into(),
            source: CredentialSource::Keyring,
            origin: "Secret Service".into(),
        },
        CredentialOrigin {
            what: "database URL".into(),
            name: "db:production".into(),
            source: CredentialSource::Missing,
            origin: "missing; `shipdeck auth set db:production`".into(),
        },
    ];
    let (_, redraw) = update(
        &mut state,
        Msg::Credentials { env: 0, origins },
        &Keymap::default(),
    );
    assert!(redraw);
    // The missing one comes first, so even a narrow panel shows the fix.
    let narrow = screen_text(&render(&state, 120, 24));
    assert!(
        narrow.contains("shipdeck auth set db:production"),
        "{narrow}"
    );
    let terminal = render(&state, 200, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("fly token: Secret Service"), "{text}");
    insta::assert_snapshot!("releases_credentials_200x30", terminal.backend());
}

#[test]
fn demo_envs_say_no_credential_is_needed_from_the_first_frame() {
    let mut state = State::from_config(&Config::demo().unwrap(), false, now());
    state.focus = Panel::Releases;
    let text = screen_text(&render(&state, 120, 30));
    assert!(text.contains("none needed (demo fleet)"), "{text}");
}

#[test]
fn migrations_panel_shows_alembic_revisions_and_the_tools_output() {
    use shipdeck::migrate::run::MigrationView;
    use shipdeck::state::Modal;
    let mut state = populated();
    state.envs[state.env_idx].has_migrations = true;
    state.envs[state.env_idx].migrations = Load::Loaded {
        data: MigrationView {
            previous: None,
            current: None,
            dirty: false,
            pending: vec![],
            missing: vec![],
            findings: vec![],
            total: 3,
            tool: "alembic",
            revision: Some("a1".into()),
            pending_revisions: vec![
                ("b2".into(), "add email".into()),
                ("c3".into(), "add orders".into()),
            ],
        },
        at: now(),
    };
    state.modal = Some(Modal::Migrations);
    for line in [
        "INFO  [alembic.runtime.migration] Running upgrade a1 -> b2",
        "\u{1b}[31mboom\u{1b}[0m",
    ] {
        let _ = update(
            &mut state,
            Msg::MigrationOutput(shipdeck::sanitize::sanitize(line)),
            &Keymap::default(),
        );
    }
    let terminal = render(&state, 120, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("version a1"), "{text}");
    assert!(text.contains("pending b2 add email"), "{text}");
    assert!(text.contains("Running upgrade a1 -> b2"), "{text}");
    assert!(!text.contains('\u{1b}'));
    insta::assert_snapshot!("migrations_alembic_120x30", terminal.backend());
}

/// The footer's cells that spell `text` on the bottom line, if it shows it.
fn footer_style_of(terminal: &Terminal<TestBackend>, text: &str) -> Option<ratatui::style::Style> {
    let buf = terminal.backend().buffer();
    let y = buf.area.height - 1;
    let line: String = (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect();
    let at = line.find(text)?;
    let x = line[..at].chars().count() as u16;
    Some(buf[(x, y)].style())
}

#[test]
fn read_only_shows_every_mutating_action_disabled_in_help_and_footer() {
    use shipdeck::engine::policy::mutates;
    use shipdeck::keymap::Action;
    use shipdeck::ui::theme::Role;
    let theme = Theme::load("dark").unwrap();
    let disabled = theme.style(Role::Disabled);
    for read_only in [true, false] {
        let mut state = populated();
        state.read_only = read_only;
        // The footer of every panel: a mutating action is drawn disabled exactly under --read-only.
        for panel in Panel::ORDER {
            state.focus = panel;
            let term = render(&state, 200, 50);
            for action in ui::hints_for(panel).iter().filter(|a| mutates(**a)) {
                let style = footer_style_of(&term, &format!(" {} ", action.describe()))
                    .unwrap_or_else(|| panic!("{action:?} is in the {panel:?} footer"));
                assert_eq!(
                    style.fg == disabled.fg,
                    read_only,
                    "{action:?} in the {panel:?} footer (read_only {read_only})"
                );
            }
        }
        // The help overlay: every mutating action says why.
        state.focus = Panel::Secrets;
        press(&mut state, KeyCode::Char('?'));
        let text = screen_text(&render(&state, 200, 60));
        for action in Action::ALL.iter().filter(|a| mutates(**a)) {
            let row = text
                .lines()
                .find(|l| {
                    l.contains(&format!(" {} ", action.describe()))
                        || l.contains(&format!("{}  ", action.describe()))
                })
                .unwrap_or_else(|| panic!("{action:?} is in the help\n{text}"));
            assert_eq!(
                row.contains("disabled: shipdeck runs with --read-only"),
                read_only,
                "{action:?}: {row}"
            );
        }
    }
}

#[test]
fn a_failed_revert_stays_on_screen_until_someone_unpins() {
    let mut state = populated();
    state.pins.insert(
        "production".into(),
        shipdeck::engine::pins::Pin {
            env: "production".into(),
            release: "mixed".into(),
            by: "ci@runner".into(),
            at: now(),
            reason: "revert failed: api back to v41: HTTP 500".into(),
        },
    );
    let text = screen_text(&render(&state, 160, 40));
    let top = text.lines().next().unwrap();
    assert!(top.contains("production: REVERT FAILED"), "{top}");
    state.pins.clear();
    let text = screen_text(&render(&state, 160, 40));
    assert!(!text.contains("REVERT FAILED"));
}

#[test]
fn a_sealed_variable_reads_sealed_not_unavailable() {
    let mut state = populated();
    for env in &mut state.envs {
        env.provider = shipdeck::config::ProviderKind::Railway;
        if let Some(Load::Loaded { data, .. }) = env.secrets.first_mut() {
            data.push(SecretMeta {
                name: "SEALED_TOKEN".into(),
                digest: None,
                updated_at: None,
                staged: false,
                write_only: true,
            });
        }
    }
    let text = screen_text(&render(&state, 200, 50));
    let row = text
        .split("SEALED_TOKEN")
        .nth(1)
        .map(|rest| rest.chars().take(20).collect::<String>())
        .unwrap_or_default();
    assert!(row.contains("sealed"), "{row}");
    // Elsewhere (GitHub environment secrets) it says there is no value to show.
    for env in &mut state.envs {
        env.provider = shipdeck::config::ProviderKind::GithubActions;
    }
    let text = screen_text(&render(&state, 200, 50));
    let row: String = text
        .split("SEALED_TOKEN")
        .nth(1)
        .map(|rest| rest.chars().take(20).collect())
        .unwrap_or_default();
    assert!(row.contains("no value"), "{row}");
}

#[test]
fn a_pinned_protected_env_shows_its_whole_badge() {
    let mut state = populated();
    state.pins.insert(
        "production".into(),
        shipdeck::engine::pins::Pin {
            env: "production".into(),
            release: "v41".into(),
            by: "maria@laptop".into(),
            at: now(),
            reason: "rollback from v44".into(),
        },
    );
    let text = screen_text(&render(&state, 120, 36));
    assert!(text.contains("production ⛨ PINNED"), "{text}");
}

#[test]
fn a_deploy_waiting_for_a_reviewer_is_approved_with_the_name_typed() {
    let mut state = populated();
    state.env_idx = 2; // production, protected
    // The demo holds no deploys for approval: v says so.
    press(&mut state, KeyCode::Char('v'));
    let toast = state.toast.clone().unwrap();
    assert!(
        toast.text.contains("cannot hold deploys for approval"),
        "{toast:?}"
    );
    // A GitHub-deployed env does.
    state.envs[2].capabilities = Some((
        "github",
        shipdeck::provider::github::GithubProvider::CAPABILITIES,
    ));
    let effects = press_key(&mut state, KeyCode::Char('v'), KeyModifiers::NONE);
    assert!(
        matches!(effects.as_slice(), [shipdeck::app::Effect::LoadApprovals { env }] if env == "production"),
        "{effects:?}"
    );
    let approval = shipdeck::provider::Approval {
        run: "19000000042".into(),
        label: "Deploy #42 by carol".into(),
        environments: vec![(4100000001, "production".into())],
        reviewers: vec!["alice".into(), "team acme/release".into()],
        can_approve: true,
    };
    let _ = update(
        &mut state,
        Msg::Approvals {
            env: "production".into(),
            result: Ok(vec![approval]),
        },
        &Keymap::default(),
    );
    let text = screen_text(&render(&state, 120, 30));
    assert!(
        text.contains("Deploy #42 by carol waits to deploy to production"),
        "{text}"
    );
    assert!(
        text.contains("reviewers: alice, team acme/release"),
        "{text}"
    );
    assert!(text.contains("a approve · r reject"), "{text}");
    // Protected: the choice, then the name typed back.
    assert!(press_key(&mut state, KeyCode::Char('a'), KeyModifiers::NONE).is_empty());
    assert!(press_key(&mut state, KeyCode::Enter, KeyModifiers::NONE).is_empty());
    type_text(&mut state, "production");
    let effects = press_key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(
            effects.as_slice(),
            [shipdeck::app::Effect::Review { approve: true, typed: Some(t), run, .. }]
                if t == "production" && run == "19000000042"
        ),
        "{effects:?}"
    );
    // Under --read-only the key is refused with the reason.
    state.read_only = true;
    press(&mut state, KeyCode::Char('v'));
    assert!(state.toast.as_ref().unwrap().text.contains("--read-only"));
}
