//! An in-process keyring-core store for tests: unlike keyring-core's mock
//! (whose values live in the `Entry`), a value written through one `Entry`
//! is read back through a new one. Values are zeroized when replaced or
//! removed. Never selected unless explicitly allowed.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use keyring_core::api::{CredentialApi, CredentialPersistence, CredentialStoreApi};
use keyring_core::{Credential, Entry, Error, Result};
use zeroize::Zeroizing;

type Items = HashMap<(String, String), Zeroizing<Vec<u8>>>;

/// A process-local credential store (tests only).
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Arc<Mutex<Items>>,
}

impl MemoryStore {
    /// An empty store, ready for `keyring_core::Entry::new_in_store`.
    pub fn new() -> Arc<MemoryStore> {
        Arc::new(MemoryStore::default())
    }
}

fn lock(items: &Mutex<Items>) -> MutexGuard<'_, Items> {
    // A panic while holding the lock cannot leave a half-written entry.
    items.lock().unwrap_or_else(|p| p.into_inner())
}

impl CredentialStoreApi for MemoryStore {
    fn vendor(&self) -> String {
        "shipdeck in-memory test store".to_string()
    }

    fn id(&self) -> String {
        format!("{:p}", Arc::as_ptr(&self.items))
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        _modifiers: Option<&HashMap<&str, &str>>,
    ) -> Result<Entry> {
        Ok(Entry::new_with_credential(Arc::new(MemoryCred {
            items: self.items.clone(),
            id: (service.to_string(), user.to_string()),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn persistence(&self) -> CredentialPersistence {
        CredentialPersistence::ProcessOnly
    }
}

/// One `(service, user)` slot of a [`MemoryStore`].
#[derive(Debug)]
struct MemoryCred {
    items: Arc<Mutex<Items>>,
    id: (String, String),
}

impl CredentialApi for MemoryCred {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        lock(&self.items).insert(self.id.clone(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        lock(&self.items)
            .get(&self.id)
            .map(|v| v.to_vec())
            .ok_or(Error::NoEntry)
    }

    fn delete_credential(&self) -> Result<()> {
        lock(&self.items)
            .remove(&self.id)
            .map(drop)
            .ok_or(Error::NoEntry)
    }

    fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
        if lock(&self.items).contains_key(&self.id) {
            Ok(None)
        } else {
            Err(Error::NoEntry)
        }
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some(self.id.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring_core::CredentialStore;

    #[test]
    fn a_new_entry_reads_what_another_wrote() {
        let store: Arc<CredentialStore> = MemoryStore::new();
        let a = Entry::new_in_store(&store, "shipdeck", "fly:default").unwrap();
        a.set_password("one").unwrap();
        drop(a);
        let b = Entry::new_in_store(&store, "shipdeck", "fly:default").unwrap();
        assert_eq!(b.get_password().unwrap(), "one");
        b.set_password("two").unwrap();
        let c = Entry::new_in_store(&store, "shipdeck", "fly:default").unwrap();
        assert_eq!(c.get_password().unwrap(), "two");
        c.delete_credential().unwrap();
        assert!(matches!(b.get_password(), Err(Error::NoEntry)));
        assert!(matches!(b.delete_credential(), Err(Error::NoEntry)));
        let other = Entry::new_in_store(&store, "shipdeck", "fly:other").unwrap();
        assert!(matches!(other.get_credential(), Err(Error::NoEntry)));
    }

    #[test]
    fn separate_stores_do_not_share() {
        let one: Arc<CredentialStore> = MemoryStore::new();
        let two: Arc<CredentialStore> = MemoryStore::new();
        Entry::new_in_store(&one, "s", "u")
            .unwrap()
            .set_password("x")
            .unwrap();
        let e = Entry::new_in_store(&two, "s", "u").unwrap();
        assert!(matches!(e.get_password(), Err(Error::NoEntry)));
    }
}
