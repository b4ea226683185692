//! A machine list handed from `status()` to the `releases()` that follows it
//! in the same refresh, so one refresh lists an app's machines once. A list
//! is handed over at most once and only while younger than its TTL (keep the
//! TTL at or below the health interval); anything else lists afresh, so a
//! caller outside a refresh never sees an old list.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

// Tokio's clock (the system clock outside tests), so a paused test clock ages lists too.
use tokio::time::Instant;

use super::model::Machine;

/// Which listing a list answers: app and process-group filter.
type Key = (String, Option<String>);

/// The last fresh machine list per (app, group), waiting for one taker.
#[derive(Debug)]
pub struct Handoff {
    ttl: Duration,
    lists: Mutex<HashMap<Key, (Instant, Vec<Machine>)>>,
}

impl Handoff {
    /// Lists stay on offer for `ttl`.
    pub fn new(ttl: Duration) -> Handoff {
        Handoff {
            ttl,
            lists: Mutex::new(HashMap::new()),
        }
    }

    /// Offer a list just fetched.
    pub fn offer(&self, app: &str, group: Option<&str>, machines: &[Machine]) {
        if self.ttl.is_zero() {
            return;
        }
        self.lock().insert(
            (app.to_string(), group.map(str::to_string)),
            (Instant::now(), machines.to_vec()),
        );
    }

    /// Take the list on offer, if it is younger than the TTL.
    pub fn take(&self, app: &str, group: Option<&str>) -> Option<Vec<Machine>> {
        let key = (app.to_string(), group.map(str::to_string));
        let (at, list) = self.lock().remove(&key)?;
        (at.elapsed() <= self.ttl).then_some(list)
    }

    /// Drop every list on offer (after a change to the machines).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, Vec<Machine>)>> {
        self.lists.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str) -> Machine {
        serde_json::from_value(serde_json::json!({"id": id, "state": "started"})).unwrap()
    }

    #[test]
    fn a_list_is_taken_once_per_key_and_only_while_fresh() {
        let h = Handoff::new(Duration::from_secs(60));
        h.offer("shop", Some("web"), &[machine("m1")]);
        assert!(h.take("shop", None).is_none(), "another filter");
        assert!(h.take("other", Some("web")).is_none(), "another app");
        let got = h.take("shop", Some("web")).expect("on offer");
        assert_eq!(got[0].id, "m1");
        assert!(h.take("shop", Some("web")).is_none(), "taken once");

        h.offer("shop", None, &[machine("m2")]);
        h.clear();
        assert!(h.take("shop", None).is_none(), "cleared");

        let stale = Handoff::new(Duration::from_millis(1));
        stale.offer("shop", None, &[machine("m3")]);
        std::thread::sleep(Duration::from_millis(5));
        assert!(stale.take("shop", None).is_none(), "older than the TTL");

        let off = Handoff::new(Duration::ZERO);
        off.offer("shop", None, &[machine("m4")]);
        assert!(off.take("shop", None).is_none(), "a zero TTL turns it off");
    }
}
