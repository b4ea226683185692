//! The console's polling of one Fly app over a simulated minute, counted per
//! endpoint by the fake Fly: the real pollers (`Runner::start_polls`: the
//! refresh loop and a log tail per service) with the default intervals
//! (refresh 15 s, health 2 s), on tokio's paused clock.
//!
//! The budget per app and minute (`shipdeck::app::budget::Budget`), for two
//! services tailed from Fly:
//! - machine lists: 6 = 4 refreshes (0, 15, 30, 45 s; history reuses the list
//!   status just fetched) + 1 per log stream opened;
//! - GraphQL: 4, secret lists: 4 (one each per refresh);
//! - log polls: 18 idle (9 per stream: at 0, 1, 3, 7, 15, 25, 35, 45, 55 s),
//!   at most 120 busy (one a second per stream).
//!
//! A burst of refreshes asked for by hand costs at most two more refreshes
//! (the one it starts and one queued behind it), never one per key press.

mod support {
    pub mod fly_fake;
}

use std::sync::Arc;
use std::time::Duration;

use shipdeck::app::budget::Budget;
use shipdeck::app::effects::Runner;
use shipdeck::app::{Effect, Msg};
use shipdeck::config::Config;
use shipdeck::engine::{Actor, Engine};
use shipdeck::paths::StatePaths;
use shipdeck::provider::fly::{FlyProvider, FlySettings};
use shipdeck::provider::{CallSink, Provider};
use support::fly_fake::{Counts, FlyFake, deployment_image, log_entry, release_node};
use tokio::sync::mpsc;

const TOKEN: &str = "fm2_budgetTESTtoken";
const MINUTE: Duration = Duration::from_millis(59_900);

/// An app with two web machines and a worker, five releases and two secrets.
async fn fake() -> FlyFake {
    let fake = FlyFake::start(&format!("FlyV1 {TOKEN}")).await;
    let image = deployment_image("shop", 5);
    fake.add_app("shop", 2, &image);
    let mut st = fake.state();
    let app = st.apps.get_mut("shop").unwrap();
    let mut worker = app.machines["shop-m1"].clone();
    worker.id = "shop-w1".into();
    worker.group = "worker".into();
    app.machines.insert(worker.id.clone(), worker);
    app.releases = (1..=5)
        .rev()
        .map(|n| release_node(n, &deployment_image("shop", n), "complete"))
        .collect();
    for name in ["DATABASE_URL", "REDIS_URL"] {
        app.secrets.insert(
            name.into(),
            ("0123abcd".into(), "2026-11-01T00:00:00Z".into()),
        );
    }
    drop(st);
    fake
}

/// The console's pollers for one Fly env with services `web` and `worker`
/// (no health URL, no log source: everything comes from Fly).
fn console(fake: &FlyFake, dir: &std::path::Path) -> (Runner, mpsc::UnboundedReceiver<Msg>) {
    let text = format!(
        "[[env]]\nname = \"production\"\nprovider = \"fly\"\n\
         fly = {{ app = \"shop\", api_url = \"{base}/v1\", graphql_url = \"{base}/graphql\", logs_url = \"{base}\" }}\n\n\
         [[env.service]]\nname = \"web\"\n\n[[env.service]]\nname = \"worker\"\n",
        base = fake.base
    );
    let cfg = Arc::new(Config::parse_str(&text, std::path::Path::new("budget.toml")).unwrap());
    let mut settings = FlySettings::new("shop");
    settings.api_url = fake.base.clone();
    settings.graphql_url = format!("{}/graphql", fake.base);
    settings.logs_url = fake.base.clone();
    let fly: Arc<dyn Provider> = Arc::new(FlyProvider::with_token(
        settings,
        TOKEN.into(),
        Duration::from_secs(5),
        CallSink::discard(),
        "tester".into(),
    ));
    let engine = Engine::new(
        cfg,
        vec![Some(fly)],
        StatePaths::new(dir.into()),
        Actor::current(),
        true,
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(engine, tx);
    runner.start_polls();
    (runner, rx)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Vec<Msg> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

#[tokio::test(start_paused = true)]
async fn an_idle_app_costs_a_few_calls_a_minute() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut runner, mut rx) = console(&fake, dir.path());
    let budget = Budget::per_minute(Duration::from_secs(15), 2);

    tokio::time::sleep(Duration::from_secs(20)).await;
    let before_burst = fake.counts();
    // Someone holds ctrl-r: ten refreshes asked for within a second.
    for _ in 0..10 {
        runner.run(Effect::Refresh { env: 0 });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let burst = fake.counts();
    tokio::time::sleep(MINUTE - Duration::from_secs(26)).await;
    let minute = fake.counts();
    drop(runner);

    let refreshes = |c: Counts| c.graphql;
    assert!(
        refreshes(burst) - refreshes(before_burst) <= 2,
        "a burst of ten costs at most two refreshes: {before_burst:?} -> {burst:?}"
    );
    let extra = refreshes(burst) - refreshes(before_burst);
    let scheduled = Counts {
        machine_lists: minute.machine_lists - extra,
        graphql: minute.graphql - extra,
        secret_lists: minute.secret_lists - extra,
        ..minute
    };
    assert_eq!(
        scheduled.graphql, 4,
        "one history fetch per refresh: {minute:?}"
    );
    assert_eq!(scheduled.secret_lists, 4, "{minute:?}");
    assert!(
        scheduled.machine_lists <= budget.machine_lists as usize,
        "machine lists {minute:?} over {budget:?}"
    );
    assert!(
        minute.log_polls <= budget.log_polls_idle as usize,
        "log polls {minute:?} over {budget:?}"
    );
    assert!(
        minute.log_polls >= 2 * 8,
        "both streams keep polling: {minute:?}"
    );
    assert_eq!(minute.machine_gets + minute.other, 0, "{minute:?}");
    assert_eq!(
        budget,
        Budget {
            machine_lists: 6,
            history: 4,
            secrets: 4,
            log_polls_idle: 18,
            log_polls_busy: 120,
        }
    );

    // The console got every answer.
    let msgs = drain(&mut rx);
    let count = |f: fn(&Msg) -> bool| msgs.iter().filter(|m| f(m)).count();
    assert!(count(|m| matches!(m, Msg::Instances { result: Ok(_), .. })) >= 4);
    assert!(count(|m| matches!(m, Msg::Releases { result: Ok(r), .. } if r.len() == 5)) >= 4);
    assert!(count(|m| matches!(m, Msg::Secrets { result: Ok(s), .. } if s.len() == 2)) >= 4);
}

#[tokio::test(start_paused = true)]
async fn a_busy_log_stream_polls_once_a_second() {
    let fake = fake().await;
    {
        let mut st = fake.state();
        let app = st.apps.get_mut("shop").unwrap();
        // A new line on every poll, for longer than the minute lasts.
        app.log_pages = (0..200)
            .map(|i| vec![log_entry("shop-m1", "info", &format!("GET /items/{i} 200"))])
            .collect();
    }
    let dir = tempfile::tempdir().unwrap();
    let (runner, mut rx) = console(&fake, dir.path());
    tokio::time::sleep(MINUTE).await;
    let minute = fake.counts();
    drop(runner);
    let budget = Budget::per_minute(Duration::from_secs(15), 2);
    assert!(
        minute.log_polls <= budget.log_polls_busy as usize,
        "log polls {minute:?} over {budget:?}"
    );
    assert!(
        minute.machine_lists <= budget.machine_lists as usize
            && minute.graphql <= budget.history as usize
            && minute.secret_lists <= budget.secrets as usize,
        "{minute:?} over {budget:?}"
    );
    // Both streams kept up with a line a second (the fake serves the pages to each).
    assert!(minute.log_polls >= 2 * 55, "{minute:?}");
    let lines: usize = drain(&mut rx)
        .iter()
        .filter_map(|m| match m {
            Msg::LogLines { svc: 0, lines, .. } => Some(lines.len()),
            _ => None,
        })
        .sum();
    assert!(lines >= 55, "web got {lines} lines");
}
