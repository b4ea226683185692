//! TLS to a real Postgres that refuses plaintext over TCP (`hostnossl …
//! reject`), with a certificate for `localhost` signed by a throwaway CA:
//! every libpq `sslmode` behaves as libpq's does, and migrations run over it.

mod support {
    pub mod pg;
}

use std::time::Duration;

use shipdeck::migrate::files::discover;
use shipdeck::migrate::postgres::{Postgres, identity};
use support::pg::{PgServer, other_ca};

async fn err(url: &str) -> String {
    match identity(url).await {
        Ok(who) => panic!("{url} connected as {who}, expected a refusal"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn every_sslmode_against_a_tls_only_server() {
    let (pg, ca) = PgServer::start_tls();
    let by_ip = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let by_name = format!("postgres://postgres@localhost:{}/postgres", pg.port);
    let ca = ca.display().to_string();

    // Plaintext is refused by the server, so every success below is TLS.
    let e = err(&format!("{by_ip}?sslmode=disable")).await;
    assert!(e.contains("no encryption"), "{e}");

    // prefer (the default) and require encrypt without checking the certificate.
    for url in [by_ip.clone(), format!("{by_ip}?sslmode=require")] {
        let who = identity(&url).await.unwrap();
        assert!(who.contains("over TLSv1."), "{url}: {who}");
    }

    // verify-ca checks the chain but not the name (the cert is for localhost).
    let who = identity(&format!("{by_ip}?sslmode=verify-ca&sslrootcert={ca}"))
        .await
        .unwrap();
    assert!(who.contains("over TLSv1."), "{who}");

    // verify-full checks both: fine by name, refused by IP.
    let who = identity(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}"))
        .await
        .unwrap();
    assert!(who.starts_with("postgres@postgres"), "{who}");
    let e = err(&format!("{by_ip}?sslmode=verify-full&sslrootcert={ca}")).await;
    assert!(e.contains("not valid for name"), "{e}");
    assert!(
        e.contains("sslmode=verify-ca"),
        "the hint names the way out: {e}"
    );

    // Another CA's certificate does not vouch for this server.
    let scratch = tempfile::tempdir().unwrap();
    let wrong = other_ca(scratch.path());
    let e = err(&format!(
        "{by_name}?sslmode=verify-full&sslrootcert={}",
        wrong.display()
    ))
    .await;
    assert!(e.contains("not signed by the CA in sslrootcert"), "{e}");

    // require + sslrootcert checks the chain, as libpq does.
    let e = err(&format!(
        "{by_ip}?sslmode=require&sslrootcert={}",
        wrong.display()
    ))
    .await;
    assert!(e.contains("not signed by the CA in sslrootcert"), "{e}");

    // Key/value form works too.
    let who = identity(&format!(
        "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={ca}",
        pg.port
    ))
    .await
    .unwrap();
    assert!(who.contains("over TLSv1."), "{who}");
}

#[tokio::test]
async fn migrations_run_over_verify_full() {
    let (pg, ca) = PgServer::start_tls();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("000001_users.up.sql"),
        "CREATE TABLE users (id bigserial primary key);",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("000001_users.down.sql"),
        "DROP TABLE users;",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("000002_email.up.sql"),
        "ALTER TABLE users ADD COLUMN email text;",
    )
    .unwrap();
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        ca.display()
    );
    let migrations = discover(dir.path()).unwrap();
    let mut db = Postgres::connect(&url, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(db.up(&migrations, None).await.unwrap(), vec![1, 2]);
    assert_eq!(db.version().await.unwrap(), (Some(2), false));
}
