//! Names of variables set but not yet applied by a deploy, per provider
//! target, for platforms that hold variable changes until the next deploy
//! (Render, Railway). Kept in memory: a restart forgets the marks, never the
//! values, which the platform holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Staged variable names per target (a Render or Railway service id).
#[derive(Debug, Default)]
pub struct StagedNames(Mutex<HashMap<String, BTreeSet<String>>>);

impl StagedNames {
    /// Mark `name` as set on `target` and not yet applied.
    pub fn add(&self, target: &str, name: &str) {
        if let Ok(mut staged) = self.0.lock() {
            staged
                .entry(target.to_string())
                .or_default()
                .insert(name.to_string());
        }
    }

    /// The names staged on `target`.
    pub fn names(&self, target: &str) -> BTreeSet<String> {
        self.0
            .lock()
            .map(|m| m.get(target).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// A deploy of `target` applied everything staged on it.
    pub fn clear(&self, target: &str) {
        if let Ok(mut staged) = self.0.lock() {
            staged.remove(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_per_target_until_cleared() {
        let s = StagedNames::default();
        s.add("srv-a", "JWT");
        s.add("srv-b", "DB_URL");
        assert_eq!(s.names("srv-a").into_iter().collect::<Vec<_>>(), ["JWT"]);
        s.clear("srv-a");
        assert!(s.names("srv-a").is_empty());
        assert_eq!(s.names("srv-b").len(), 1);
    }
}
