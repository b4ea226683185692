//! The demo fleet's databases: one real SQLite file per env, with real
//! golang-migrate style migration files, staging two migrations ahead of
//! production and dev at the newest.

use std::path::{Path, PathBuf};

use crate::migrate::files::discover;
use crate::migrate::sqlite::Sqlite;

/// The migration files, embedded so the binary needs no checkout.
const FILES: &[(&str, &str)] = &[
    (
        "000001_create_users.down.sql",
        include_str!("../../assets/demo/migrations/000001_create_users.down.sql"),
    ),
    (
        "000001_create_users.up.sql",
        include_str!("../../assets/demo/migrations/000001_create_users.up.sql"),
    ),
    (
        "000002_create_orders.down.sql",
        include_str!("../../assets/demo/migrations/000002_create_orders.down.sql"),
    ),
    (
        "000002_create_orders.up.sql",
        include_str!("../../assets/demo/migrations/000002_create_orders.up.sql"),
    ),
    (
        "000003_add_orders_status_index.down.sql",
        include_str!("../../assets/demo/migrations/000003_add_orders_status_index.down.sql"),
    ),
    (
        "000003_add_orders_status_index.up.sql",
        include_str!("../../assets/demo/migrations/000003_add_orders_status_index.up.sql"),
    ),
    (
        "000004_create_carts.down.sql",
        include_str!("../../assets/demo/migrations/000004_create_carts.down.sql"),
    ),
    (
        "000004_create_carts.up.sql",
        include_str!("../../assets/demo/migrations/000004_create_carts.up.sql"),
    ),
    (
        "000005_add_users_locale.down.sql",
        include_str!("../../assets/demo/migrations/000005_add_users_locale.down.sql"),
    ),
    (
        "000005_add_users_locale.up.sql",
        include_str!("../../assets/demo/migrations/000005_add_users_locale.up.sql"),
    ),
    (
        "000006_create_webhook_signatures_v2.0.down.sql",
        include_str!("../../assets/demo/migrations/000006_create_webhook_signatures_v2.0.down.sql"),
    ),
    (
        "000006_create_webhook_signatures_v2.0.up.sql",
        include_str!("../../assets/demo/migrations/000006_create_webhook_signatures_v2.0.up.sql"),
    ),
    (
        "000007_add_orders_paid_at.down.sql",
        include_str!("../../assets/demo/migrations/000007_add_orders_paid_at.down.sql"),
    ),
    (
        "000007_add_orders_paid_at.up.sql",
        include_str!("../../assets/demo/migrations/000007_add_orders_paid_at.up.sql"),
    ),
    (
        "000008_rename_users_locale.down.sql",
        include_str!("../../assets/demo/migrations/000008_rename_users_locale.down.sql"),
    ),
    (
        "000008_rename_users_locale.up.sql",
        include_str!("../../assets/demo/migrations/000008_rename_users_locale.up.sql"),
    ),
];

/// Where each demo env's database starts the first time.
fn seeded_version(env: &str) -> u64 {
    match env {
        "production" | "prod" => 5,
        "staging" => 7,
        _ => 8,
    }
}

/// Write the migration files under `root/migrations` and create each env's
/// database under `root` (first time only). Returns the migrations folder.
pub fn prepare<'a>(
    root: &Path,
    envs: impl IntoIterator<Item = &'a str>,
) -> Result<PathBuf, String> {
    let dir = root.join("migrations");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Two shipdeck processes starting at once must not write the files or seed
    // the same database together.
    let lock = root.join(".prepare.lock");
    let _guard =
        crate::fsutil::FlockGuard::take(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    for (name, text) in FILES {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let migrations = discover(&dir).map_err(|e| e.to_string())?;
    for env in envs {
        let db = database(root, env);
        if db.exists() {
            continue;
        }
        // Built beside and renamed into place: a crash mid-seed never leaves a half-built database.
        let tmp = db.with_extension(format!("db.{}.tmp", std::process::id()));
        let mut sqlite = Sqlite::open(&tmp).map_err(|e| e.to_string())?;
        sqlite
            .goto(&migrations, seeded_version(env))
            .map_err(|e| e.to_string())?;
        drop(sqlite);
        std::fs::rename(&tmp, &db).map_err(|e| format!("{}: {e}", db.display()))?;
    }
    Ok(dir)
}

/// The SQLite file of a demo env.
pub fn database(root: &Path, env: &str) -> PathBuf {
    root.join(format!("{env}.db"))
}
