//! Secret effects through the engine (set, unset, rotate, restore), each in
//! a tokio task that reports back as messages.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::msg::{Effect, Msg};
use crate::engine::Engine;
use crate::engine::secrets::SecretsAt;

/// Run one secret effect; `abort` receives a rotation's abort switch. Returns
/// the effect back when it is not a secret effect.
pub fn run(
    engine: &Engine,
    effect: Effect,
    tx: &mpsc::UnboundedSender<Msg>,
    abort: &mut Option<watch::Sender<bool>>,
) -> Result<JoinHandle<()>, Effect> {
    let (engine, tx) = (engine.clone(), tx.clone());
    match effect {
        Effect::SecretSet {
            env,
            service,
            name,
            value,
            typed,
        } => Ok(tokio::spawn(async move {
            let at = SecretsAt {
                env: &env,
                service: service.as_deref(),
            };
            let result = engine
                .secret_set(at, &name, value, false, typed.as_deref())
                .await;
            let _ = tx.send(changed(env, &name, "set", result));
        })),
        Effect::SecretUnset {
            env,
            service,
            name,
            typed,
        } => Ok(tokio::spawn(async move {
            let at = SecretsAt {
                env: &env,
                service: service.as_deref(),
            };
            let result = engine.secret_unset(at, &name, typed.as_deref()).await;
            let _ = tx.send(changed(env, &name, "unset", result));
        })),
        Effect::Rotate { req, typed } => {
            let (abort_tx, abort_rx) = watch::channel(false);
            *abort = Some(abort_tx);
            Ok(tokio::spawn(async move {
                let events = forward(tx);
                engine.rotate(*req, &typed, events, abort_rx).await;
            }))
        }
        Effect::RestoreSecret {
            env,
            service,
            name,
            previous,
        } => Ok(tokio::spawn(async move {
            let events = forward(tx.clone());
            let at = SecretsAt {
                env: &env,
                service: service.as_deref(),
            };
            let result = engine
                .restore_secret(at, &name, previous, &events)
                .await
                .map_err(crate::engine::EngineError::Refused);
            let _ = tx.send(changed(
                env,
                &name,
                "restored the previous value of",
                result,
            ));
        })),
        other => Err(other),
    }
}

fn changed(
    env: String,
    name: &str,
    verb: &str,
    result: Result<(), crate::engine::EngineError>,
) -> Msg {
    match result {
        Ok(()) => Msg::SecretChanged {
            text: format!("{verb} {name} in {env}"),
            env,
            error: false,
        },
        Err(e) => Msg::SecretChanged {
            text: format!("{verb} {name} in {env}: {e}"),
            env,
            error: true,
        },
    }
}

fn forward(
    tx: mpsc::UnboundedSender<Msg>,
) -> mpsc::UnboundedSender<crate::engine::rotate::RotationEvent> {
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if tx.send(Msg::Rotation(event)).is_err() {
                break;
            }
        }
    });
    events_tx
}
