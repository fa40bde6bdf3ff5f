//! The real daemon on PostgreSQL (`[daemon] state = "env:…"` naming a database): alerts once,
//! keeps its promises across `kill -9`, refuses a second daemon on the same database, and the
//! operator commands read the same database.
//!
//! Needs a server: `NEWSWATCH_TEST_POSTGRES` names a database the test may create a schema in
//! (`.ci/run` starts one with `.ci/postgres`). Without it the test prints why and does nothing;
//! with `NEWSWATCH_REQUIRE_POSTGRES` set, no server is a failure.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, wait_for};
use sqlx::Connection;

/// A schema of this test's own in the test database, dropped when the guard goes; `None`
/// (printed) when there is no server.
struct Schema {
    url: String,
    base: String,
    name: String,
}

impl Schema {
    async fn create(tag: &str) -> Option<Schema> {
        let base = match std::env::var("NEWSWATCH_TEST_POSTGRES") {
            Ok(u) => u,
            Err(_) => return skip("NEWSWATCH_TEST_POSTGRES is not set"),
        };
        let mut conn = match sqlx::PgConnection::connect(&base).await {
            Ok(c) => c,
            Err(e) => return skip(&format!("cannot connect: {e}")),
        };
        let name = format!("nwtest_{}_{tag}", std::process::id());
        for sql in [
            format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
            format!("CREATE SCHEMA \"{name}\""),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        // libpq's `options` parameter: every connection of the daemon uses the schema.
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Some(Schema { url, base, name })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs outside the test's runtime: a small one of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&base).await {
                    let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
                }
            })
        })
        .join();
    }
}

fn skip<T>(why: &str) -> Option<T> {
    if std::env::var_os("NEWSWATCH_REQUIRE_POSTGRES").is_some() {
        panic!("PostgreSQL required (NEWSWATCH_REQUIRE_POSTGRES) but unavailable: {why}");
    }
    eprintln!("skipped: no PostgreSQL for this test ({why})");
    None
}

/// The instance lock is one per database and the tests share one database: one daemon test at
/// a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(feed: &str, hook: &Receiver) -> String {
    format!(
        "[daemon]\nstate = \"env:NW_TEST_DATABASE_URL\"\nlisten = \"off\"\npoll_interval = \"1s\"\n\
         min_poll_interval = \"1s\"\n\n[[feed]]\nname = \"news\"\nurl = \"{feed}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n",
        hook.url()
    )
}

/// The daemon on `db`, started and past its first poll (the feed baselined).
async fn start_baselined(
    db: &Schema,
    dir: &std::path::Path,
    feed: &FeedServer,
    hook: &Receiver,
) -> Daemon {
    let mut d = Daemon::new(dir, &config(&feed.url(), hook));
    d.env.push(("NW_TEST_DATABASE_URL".into(), db.url.clone()));
    d.start();
    assert!(
        wait_for(Duration::from_secs(30), || d
            .log()
            .contains("baseline=true"))
        .await,
        "{}",
        d.log()
    );
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_on_postgresql_alerts_once_across_kill_9_and_refuses_a_second_instance() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("daemon").await else {
        return;
    };
    let feed =
        FeedServer::start(vec![Item::new("old", "North Korean troops in the backlog")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    // The first poll baselines; a new item then alerts once.
    let mut d = start_baselined(&db, dir.path(), &feed, &hook).await;
    feed.push(Item::new("n1", "North Korean troops reach Kursk"));
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );

    // A second daemon on the same database stops at once, saying why.
    let second = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["run", "--once", "-c"])
        .arg(&d.config)
        .env("NW_TEST_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(
        err.contains("another newswatch is running on this PostgreSQL database"),
        "{err}"
    );
    assert!(
        !err.contains("newswatch_test:"),
        "the URL's password leaked: {err}"
    );

    // kill -9, a new item meanwhile, a restart: the new item alerts, nothing alerts twice.
    d.kill9();
    feed.push(Item::new("n2", "More North Korean troops arrive"));
    d.start();
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() >= 2).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = hook.delivered();
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (got.len(), ids.len()),
        (2, 2),
        "two alerts, each once\n{}",
        d.log()
    );
    d.stop();

    // The operator's view reads the same database.
    let status = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["status", "--json", "-c"])
        .arg(&d.config)
        .env("NW_TEST_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains("\"news\""), "{text}");
    assert_eq!(report["source"], "database", "{text}");
    assert_eq!(report["pending"], 0, "{text}");
    assert_eq!(
        report["recent_alerts"].as_array().map(Vec::len),
        Some(2),
        "{text}"
    );
}

/// The daemon stops (exit 1, saying why) when another process took the database's instance
/// lock while the daemon's lock connection was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_lost_the_instance_lock_to_another_stops() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("lost").await else {
        return;
    };
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    // The first poll baselines; a new item then alerts once.
    let mut d = start_baselined(&db, dir.path(), &feed, &hook).await;
    // End the daemon's lock session and take the lock on a connection of the test's own.
    let mut other = sqlx::PgConnection::connect(&db.base).await.unwrap();
    let key = 0x6e65_7773_7761_7463_i64;
    let holder: i32 = sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (classid::bigint << 32) + objid::bigint = $1",
    )
    .bind(key)
    .fetch_one(&mut other)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(holder)
        .execute(&mut other)
        .await
        .unwrap();
    let mut taken = false;
    for _ in 0..100 {
        taken = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut other)
            .await
            .unwrap();
        if taken {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(taken, "the lock was not free after its session ended");
    let exit = d.wait(Duration::from_secs(30));
    assert_eq!(
        exit.map(|s| s.code()),
        Some(Some(1)),
        "the daemon kept running without the lock\n{}",
        d.log()
    );
    assert!(
        d.log()
            .contains("another newswatch took this PostgreSQL database's instance lock"),
        "{}",
        d.log()
    );
}
