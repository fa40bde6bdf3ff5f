//! A fresh PostgreSQL store per test, when a server is available.
//!
//! `NEWSWATCH_TEST_POSTGRES` names a database the tests may create schemas in (CI starts a
//! server and sets it, see `.ci/run`). Each test gets its own schema, so tests run in parallel
//! without seeing each other's rows; schemas left by test processes that have ended are
//! dropped when the next run starts. Without the variable (or when the server does not
//! answer) [`fresh`] returns `None` and the test prints why it did nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::OnceCell;

use super::PgStore;

/// The variable naming the test database.
pub const ENV: &str = "NEWSWATCH_TEST_POSTGRES";

static SWEPT: OnceCell<()> = OnceCell::const_new();
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The test database's options, or why there is none.
fn base() -> Result<PgConnectOptions, String> {
    let url = std::env::var(ENV).map_err(|_| format!("{ENV} is not set"))?;
    url.parse::<PgConnectOptions>()
        .map_err(|e| format!("{ENV} is not a PostgreSQL URL: {e}"))
}

/// Drop the schemas of test processes that are no longer running (Linux: `/proc/<pid>`), and
/// those named with this process's own pid: they were left by an ended process whose pid this
/// one reuses (the sweep runs before this process makes any schema).
async fn sweep(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'nwtest\\_%'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for name in names {
        let pid = name.split('_').nth(1).unwrap_or_default();
        let mine = pid == std::process::id().to_string();
        if mine || !std::path::Path::new("/proc").join(pid).exists() {
            // The name comes from the catalog and matched the pattern above: quoted, it is an
            // identifier, not SQL.
            let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Options for a new, empty schema of this process's own, or why there is none.
pub async fn fresh_options() -> Result<PgConnectOptions, String> {
    let opts = base()?;
    let mut conn = sqlx::PgConnection::connect_with(&opts)
        .await
        .map_err(|e| format!("cannot connect to {ENV}: {e}"))?;
    SWEPT
        .get_or_try_init(|| async { sweep(&mut conn).await })
        .await
        .map_err(|e| format!("cannot drop old test schemas: {e}"))?;
    let schema = format!(
        "nwtest_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot create schema {schema}: {e}"))?;
    Ok(opts.options([("search_path", schema.as_str())]))
}

/// A migrated store in a new schema, or `None` (printed) when no server is available. When
/// `NEWSWATCH_REQUIRE_POSTGRES` is set (CI, once it has started a server), no server is a
/// failure, not a skip.
pub async fn fresh() -> Option<PgStore> {
    let opts = match fresh_options().await {
        Ok(o) => o,
        Err(why) => return skip(why),
    };
    match PgStore::open_with(opts).await {
        Ok(s) => Some(s),
        Err(e) => skip(format!("cannot open the test store: {e}")),
    }
}

/// `None`, printing why; a panic instead when `NEWSWATCH_REQUIRE_POSTGRES` is set.
pub fn skip<T>(why: String) -> Option<T> {
    if std::env::var_os("NEWSWATCH_REQUIRE_POSTGRES").is_some() {
        panic!("PostgreSQL required (NEWSWATCH_REQUIRE_POSTGRES) but unavailable: {why}");
    }
    eprintln!("skipped: no PostgreSQL for this test ({why})");
    None
}
