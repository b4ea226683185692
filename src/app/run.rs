//! The event loop: terminal events, timers, signals and task results arrive
//! on one inbox; each batch goes through `update`, and the screen is redrawn
//! once per batch, only when something changed, at most ~60 times a second.

use std::io::{self, Stdout};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event, EventStream};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::effects::Runner;
use super::msg::Msg;
use super::update::update;
use crate::config::Config;
use crate::keymap::Keymap;
use crate::state::State;
use crate::ui::{self, theme::Theme};

/// Shortest time between two frames.
const FRAME: Duration = Duration::from_millis(16);

/// Shortest time between two frames when only background data changed
/// (log lines, probes): keeps an idle screen cheap; keys still draw at once.
const BACKGROUND_FRAME: Duration = Duration::from_millis(250);

/// Everything the TUI needs to start.
pub struct TuiOptions {
    /// Loaded config.
    pub config: Config,
    /// `--read-only`.
    pub read_only: bool,
    /// Resolved theme.
    pub theme: Theme,
    /// Resolved key bindings.
    pub keymap: Keymap,
}

/// Restores the terminal when dropped, whatever the exit path.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableBracketedPaste,
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leave the alternate screen and raw mode (safe to call twice).
pub fn restore_terminal() {
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
}

/// Restore the terminal before the default panic message prints.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

/// Run the TUI until the user quits or a signal arrives.
pub async fn run_tui(opts: TuiOptions) -> io::Result<()> {
    install_panic_hook();
    let TuiOptions {
        mut config,
        read_only,
        theme,
        keymap,
    } = opts;
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let mut state = State::from_config(&config, read_only, chrono::Utc::now());

    // The first frame comes from config alone, before any network I/O.
    draw(&mut terminal, &state, &theme, &keymap)?;

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (call_tx, mut call_rx) = mpsc::unbounded_channel();
    let calls = crate::provider::CallSink::new(call_tx);
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(record) = call_rx.recv().await {
            if forward.send(Msg::Call(record)).is_err() {
                break;
            }
        }
    });
    spawn_signal_listeners(tx.clone());

    let fleet = crate::demo::start_if_needed(&mut config).await?;
    state.attach_endpoints(&config);
    let providers = crate::provider::registry::providers_for(
        &config,
        fleet.as_ref().map(|f| f.control_url.as_str()),
        calls,
    );
    let config = Arc::new(config);
    let engine = crate::engine::Engine::new(
        config.clone(),
        providers,
        crate::paths::StatePaths::default_location(),
        crate::engine::Actor::current(),
        read_only,
    );
    let mut runner = Runner::new(engine, tx.clone());
    runner.start();
    runner.run(super::msg::Effect::LoadMarks);
    runner.run(super::msg::Effect::CheckInterrupted);
    for (env, view) in state.envs.iter().enumerate() {
        if view.has_migrations {
            runner.run(super::msg::Effect::LoadMigrations { env });
        }
    }

    let mut events = EventStream::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_draw = Instant::now();
    let mut dirty = false;
    let mut urgent = false;
    let mut batch = Vec::with_capacity(64);

    while !state.quit {
        let gap = if urgent { FRAME } else { BACKGROUND_FRAME };
        let draw_at = tokio::time::Instant::from_std(last_draw + gap);
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => if let Some(msg) = event_to_msg(ev) { batch.push(msg) },
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(msg) = rx.recv() => batch.push(msg),
            _ = ticker.tick() => batch.push(Msg::Tick(chrono::Utc::now())),
            _ = tokio::time::sleep_until(draw_at), if dirty => {}
        }
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        for msg in batch.drain(..) {
            let is_input = matches!(
                msg,
                Msg::Key(_) | Msg::Paste(_) | Msg::Resize | Msg::Plan(_)
            );
            let (effects, changed) = update(&mut state, msg, &keymap);
            dirty |= changed;
            urgent |= changed && is_input;
            for effect in effects {
                match effect {
                    // The loop owns the terminal: it writes the clipboard request itself.
                    super::msg::Effect::Copy(text) => {
                        use std::io::Write;
                        let mut out = io::stdout();
                        let _ = out.write_all(super::export::osc52(&text).as_bytes());
                        let _ = out.flush();
                    }
                    other => runner.run(other),
                }
            }
        }
        if dirty
            && !state.quit
            && last_draw.elapsed() >= if urgent { FRAME } else { BACKGROUND_FRAME }
        {
            draw(&mut terminal, &state, &theme, &keymap)?;
            last_draw = Instant::now();
            dirty = false;
            urgent = false;
        }
    }
    drop(runner);
    drop(fleet);
    Ok(())
}

fn draw(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    state: &State,
    theme: &Theme,
    keymap: &Keymap,
) -> io::Result<()> {
    execute!(io::stdout(), crossterm::terminal::BeginSynchronizedUpdate)?;
    terminal.draw(|f| ui::draw(f, state, theme, keymap))?;
    execute!(io::stdout(), crossterm::terminal::EndSynchronizedUpdate)?;
    Ok(())
}

fn event_to_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) if k.is_press() => Some(Msg::Key(k)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Resize(..) => Some(Msg::Resize),
        _ => None,
    }
}

#[cfg(unix)]
fn spawn_signal_listeners(tx: mpsc::UnboundedSender<Msg>) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::interrupt(), "SIGINT"),
    ] {
        if let Ok(mut stream) = signal(kind) {
            let tx = tx.clone();
            tokio::spawn(async move {
                if stream.recv().await.is_some() {
                    let _ = tx.send(Msg::Signal(name));
                }
            });
        }
    }
}

#[cfg(not(unix))]
fn spawn_signal_listeners(tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(Msg::Signal("ctrl-c"));
        }
    });
}
