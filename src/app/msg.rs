//! Messages into `update` and effects out of it.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::domain::{Instance, Release, SecretMeta};
use crate::health::probe::{ProbeResult, ScrapeError};
use crate::health::prometheus::Window;
use crate::provider::CallRecord;
use crate::state::StreamState;

/// Everything that can happen.
#[derive(Debug)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// Pasted text.
    Paste(String),
    /// The terminal changed size.
    Resize,
    /// A second passed (ages, toasts).
    Tick(DateTime<Utc>),
    /// One output line of a migration tool shipdeck is running (sanitised).
    MigrationOutput(String),
    /// Where one env's credentials come from (checked off the UI loop).
    Credentials {
        /// Env index.
        env: usize,
        /// One line per needed credential; never a value.
        origins: Vec<crate::credentials::CredentialOrigin>,
    },
    /// A health probe finished.
    Health {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// Result.
        result: ProbeResult,
        /// When.
        at: DateTime<Utc>,
    },
    /// A metrics window was computed from two scrapes.
    Metrics {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// The window, or why not.
        result: Result<Window, ScrapeError>,
    },
    /// Release history arrived.
    Releases {
        /// Env index.
        env: usize,
        /// Deploy unit index (see `provider::registry::units_of`).
        unit: usize,
        /// Result (error already rendered).
        result: Result<Vec<Release>, crate::provider::ProviderError>,
    },
    /// Secret metadata arrived.
    Secrets {
        /// Env index.
        env: usize,
        /// Which place of the env (see `provider::registry::secret_scopes`).
        scope: usize,
        /// Result.
        result: Result<Vec<SecretMeta>, crate::provider::ProviderError>,
    },
    /// Instances arrived.
    Instances {
        /// Env index.
        env: usize,
        /// Result.
        result: Result<Vec<Instance>, crate::provider::ProviderError>,
    },
    /// Log lines arrived (batched).
    LogLines {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// Raw lines.
        lines: Vec<String>,
    },
    /// A log stream changed state.
    LogStream {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// New state.
        state: StreamState,
    },
    /// A provider call was made.
    Call(CallRecord),
    /// SIGTERM / SIGHUP / SIGINT.
    Signal(&'static str),
    /// Rotations a crash cut short: what to do about each.
    InterruptedRotations(Vec<String>),
    /// What waits for a reviewer in an env.
    Approvals {
        /// Env.
        env: String,
        /// The waiting deploys, or why they could not be read.
        result: Result<Vec<crate::provider::Approval>, String>,
    },
    /// A plan preview (promotion diff or rollback sheet) is ready.
    Preview(Result<Box<crate::engine::Preview>, String>),
    /// Progress of the running plan.
    Plan(crate::engine::PlanEvent),
    /// Pins and lock holders, by env.
    EnvMarks {
        /// Pins.
        pins: Vec<crate::engine::pins::Pin>,
        /// Lock holders (env, description).
        locks: Vec<(String, String)>,
    },
    /// Plans a crash left unfinished.
    Interrupted(Vec<crate::state::InterruptedPlan>),
    /// The audit log was read.
    Audit(Result<Vec<crate::engine::audit::AuditRecord>, String>),
    /// An env's migration status was read.
    Migrations {
        /// Env index.
        env: usize,
        /// Status or error.
        result: Result<crate::migrate::run::MigrationView, String>,
    },
    /// Something to show in an information dialog.
    Info {
        /// Title.
        title: String,
        /// Text.
        text: String,
    },
    /// Progress of a secret rotation.
    Rotation(crate::engine::rotate::RotationEvent),
    /// A secret was set or unset (or failed to be): toast, then re-read the env.
    SecretChanged {
        /// Env name.
        env: String,
        /// Message.
        text: String,
        /// Whether it failed.
        error: bool,
    },
    /// A one-off action finished (unpin, …): text for the toast.
    Done {
        /// Message.
        text: String,
        /// Whether it failed.
        error: bool,
    },
}

/// Work for the effects runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Set one secret (the value is zeroized when the effect is dropped).
    SecretSet {
        /// Env name.
        env: String,
        /// The service whose secret it is, where secrets live per service.
        service: Option<String>,
        /// Secret name.
        name: String,
        /// New value.
        value: crate::secrets::SecretValue,
        /// Typed confirmation for protected envs.
        typed: Option<String>,
    },
    /// Unset one secret.
    SecretUnset {
        /// Env name.
        env: String,
        /// The service whose secret it is, where secrets live per service.
        service: Option<String>,
        /// Secret name.
        name: String,
        /// Typed confirmation for protected envs.
        typed: Option<String>,
    },
    /// Rotate a secret across envs, health-gated.
    Rotate {
        /// What to rotate.
        req: Box<crate::engine::rotate::RotationRequest>,
        /// Protected env names typed to confirm.
        typed: Vec<String>,
    },
    /// Put a previous value back after a failed gate.
    RestoreSecret {
        /// Env name.
        env: String,
        /// The service whose secret it is, where secrets live per service.
        service: Option<String>,
        /// Secret name.
        name: String,
        /// The value to restore.
        previous: crate::secrets::SecretValue,
    },
    /// Re-read releases, secrets and instances of an env now.
    Refresh {
        /// Env index.
        env: usize,
    },
    /// Plan a promotion and show its diff.
    PreviewPromote {
        /// Source env.
        from: String,
        /// Target env.
        to: String,
    },
    /// Plan a rollback (to a release, or the previous good one).
    PreviewRollback {
        /// Env.
        env: String,
        /// Release id.
        to: Option<String>,
        /// Only the unit carrying this service.
        service: Option<String>,
    },
    /// Run a confirmed plan.
    RunPlan {
        /// The plan.
        plan: Box<crate::engine::plan::Plan>,
        /// What the user typed to confirm.
        typed: Option<String>,
    },
    /// Abort the running plan (never a rotation: each has its own switch).
    AbortPlan,
    /// Abort the running secret rotation (never a plan).
    AbortRotation,
    /// Resume, reverse or abandon an interrupted or paused plan.
    Resume {
        /// Plan id.
        plan_id: String,
        /// Carry on, roll back, or abandon.
        mode: crate::engine::ResumeMode,
        /// The env's name typed back, for a protected env.
        typed: Option<String>,
    },
    /// Ask an env's provider what waits for a reviewer.
    LoadApprovals {
        /// Env.
        env: String,
    },
    /// Approve or reject a waiting deploy.
    Review {
        /// Env.
        env: String,
        /// The waiting run.
        run: String,
        /// Approve (true) or reject.
        approve: bool,
        /// The env's name typed back, for a protected env.
        typed: Option<String>,
    },
    /// Remove an env's pin.
    Unpin {
        /// Env.
        env: String,
    },
    /// Read the audit log.
    LoadAudit,
    /// Re-read pins and lock holders.
    LoadMarks,
    /// Look for interrupted plans.
    CheckInterrupted,
    /// Show the command that tails the same logs.
    ShowLogsCommand {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
    },
    /// Re-read an env's migration status.
    LoadMigrations {
        /// Env index.
        env: usize,
    },
    /// Run a confirmed migration operation.
    Migrate {
        /// Env index.
        env: usize,
        /// Operation.
        op: crate::migrate::run::Op,
        /// What the user typed to confirm.
        typed: Option<String>,
    },
    /// Put text on the clipboard (OSC 52, written by the terminal loop).
    Copy(String),
    /// Write a log buffer's raw lines to a file.
    Export {
        /// File to write.
        path: std::path::PathBuf,
        /// Raw lines, oldest first.
        lines: Vec<String>,
    },
}
