//! The real daemon on PostgreSQL (`[daemon] state = "env:…"` naming a database): alerts once,
//! keeps its promises across `kill -9`, shares the work with other instances on the same
//! database (three of them, killed in turn, lose nothing and send nothing under a new key;
//! a sink one of them drops on reload is sent by another that has it), and the operator
//! commands read the same database.
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

/// Each test runs several daemons: one test at a time leaves them the machine's cores.
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

/// The daemon in `dir` with `cfg`, its state on `db` (not started).
fn on_db(db: &Schema, dir: &std::path::Path, cfg: &str) -> Daemon {
    let mut d = Daemon::new(dir, cfg);
    d.env.push(("NW_TEST_DATABASE_URL".into(), db.url.clone()));
    d
}

/// The daemon on `db`, started and past its first poll (the feed baselined).
async fn start_baselined(
    db: &Schema,
    dir: &std::path::Path,
    feed: &FeedServer,
    hook: &Receiver,
) -> Daemon {
    start_baselined_with(db, dir, &config(&feed.url(), hook)).await
}

/// [`start_baselined`] with a configuration of the test's own.
async fn start_baselined_with(db: &Schema, dir: &std::path::Path, cfg: &str) -> Daemon {
    let mut d = on_db(db, dir, cfg);
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
async fn the_daemon_on_postgresql_alerts_once_across_kill_9_beside_another_instance() {
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

    // A second instance beside it (one pass): the feed was polled since it was due and the
    // sink is the daemon's, so it polls and sends nothing.
    let second = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["run", "--once", "-c"])
        .arg(&d.config)
        .env("NW_TEST_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert!(
        !err.contains("newswatch_test:"),
        "the URL's password leaked: {err}"
    );
    assert_eq!(hook.delivered().len(), 1, "{err}");

    // The receiver records a request before it answers, and the daemon marks the delivery
    // sent only once it has the answer: wait for that, or the kill could land in between and
    // the restarted daemon rightly send it again.
    let config = d.config.clone();
    let status_json = || {
        Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(["status", "--json", "-c"])
            .arg(&config)
            .env("NW_TEST_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let pending = || {
        serde_json::from_slice::<serde_json::Value>(&status_json().stdout).unwrap_or_default()
            ["pending"]
            .as_i64()
    };
    assert!(
        wait_for(Duration::from_secs(30), || pending() == Some(0)).await,
        "{:?}\n{}",
        pending(),
        d.log()
    );

    // kill -9, a new item meanwhile, a restart: the new item alerts, nothing alerts twice.
    let killed = d.pid();
    d.kill9();
    feed.push(Item::new("n2", "More North Korean troops arrive"));
    d.start();
    // The killed instance's hold on the sink (30 s) must run out before the new one may send:
    // a 30 s wait raced it (the test took 33.9 s in all when it passed).
    assert!(
        wait_for(Duration::from_secs(90), || hook.delivered().len() >= 2).await,
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

    // The operator's view reads the same database. The stopped daemon left the instance list;
    // the killed one could not, and is listed with its last heartbeat until it is forgotten.
    let status = status_json();
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
    let instances = report["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{text}");
    assert_eq!(instances[0]["pid"], killed, "{text}");
    assert_eq!(instances[0]["feeds_leased"], 0, "{text}");
}

/// The kill test, small: three instances share four feeds and one sink; one is killed
/// with SIGKILL in each of three rounds (and started again) while new items arrive. Every item
/// alerts, none twice under two keys, and the items published right after a kill arrive within
/// the lease (5 s) plus the poll interval and a margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_lose_nothing_and_send_nothing_under_a_new_key_when_one_is_killed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("three").await else {
        return;
    };
    let mut feeds = Vec::new();
    for f in 0..4 {
        let old = Item::new(&format!("old{f}"), "North Korean troops in the backlog");
        feeds.push(FeedServer::start(vec![old]).await);
    }
    let hook = Receiver::ok().await;
    let mut config = String::from(
        "[daemon]\nstate = \"env:NW_TEST_DATABASE_URL\"\nlisten = \"off\"\n\
         poll_interval = \"1s\"\nmin_poll_interval = \"1s\"\nlease = \"5s\"\n\
         per_host_concurrency = 8\n\n",
    );
    for (f, server) in feeds.iter().enumerate() {
        config.push_str(&format!(
            "[[feed]]\nname = \"news{f}\"\nurl = \"{}\"\n\n",
            server.url()
        ));
    }
    config.push_str(&format!(
        "[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n",
        hook.url()
    ));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut daemons: Vec<Daemon> = dirs
        .iter()
        .map(|dir| {
            let mut d = on_db(&db, dir.path(), &config);
            d.start();
            d
        })
        .collect();
    let logs = |ds: &[Daemon]| {
        ds.iter()
            .map(|d| d.log())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    // Every feed baselined (polled twice: its backlog stays quiet).
    assert!(
        wait_for(Duration::from_secs(30), || feeds
            .iter()
            .all(|f| f.requests() >= 2))
        .await,
        "{}",
        logs(&daemons)
    );
    let mut expected = Vec::new();
    let mut takeovers = Vec::new();
    for round in 0..3 {
        for (f, server) in feeds.iter().enumerate() {
            let title = format!("North Korean troops: round {round}, before, feed {f}");
            server.push(Item::new(&format!("b{round}-{f}"), &title));
            expected.push(title);
        }
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let victim = round % 3;
        daemons[victim].kill9();
        let killed = std::time::Instant::now();
        let mut after = Vec::new();
        for (f, server) in feeds.iter().enumerate() {
            let title = format!("North Korean troops: round {round}, after, feed {f}");
            server.push(Item::new(&format!("a{round}-{f}"), &title));
            after.push(title.clone());
            expected.push(title);
        }
        let arrived = |titles: &[String]| {
            let got = titles_of(&hook);
            titles.iter().all(|t| got.contains(t))
        };
        assert!(
            wait_for(Duration::from_secs(30), || arrived(&after)).await,
            "round {round}: the items after the kill did not arrive\n{}",
            logs(&daemons)
        );
        takeovers.push(killed.elapsed());
        daemons[victim].start();
    }
    assert!(
        wait_for(Duration::from_secs(30), || {
            let got = titles_of(&hook);
            expected.iter().all(|t| got.contains(t))
        })
        .await,
        "{}",
        logs(&daemons)
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Each item under one key only (a repeat after a takeover is allowed, with the same key).
    let mut keys: std::collections::HashMap<String, std::collections::HashSet<String>> =
        Default::default();
    for r in hook.delivered() {
        let title = r.body["data"]["title"].as_str().unwrap_or("").to_string();
        keys.entry(title).or_default().insert(r.id.clone());
    }
    for t in &expected {
        assert_eq!(
            keys.get(t).map(|k| k.len()),
            Some(1),
            "{t}: one key\n{keys:?}"
        );
    }
    assert_eq!(
        keys.len(),
        expected.len(),
        "only the expected alerts: {keys:?}"
    );
    for (round, took) in takeovers.iter().enumerate() {
        assert!(
            *took <= Duration::from_secs(5 + 1 + 9),
            "round {round}: the items after the kill took {took:?}"
        );
    }
    for d in &mut daemons {
        d.stop();
    }
}

/// Regression (a configuration rolled out to one instance at a time): the instance whose
/// reload dropped a sink turned its pending deliveries into dead letters, although another
/// instance still had the sink, and its heartbeat went on renewing the sink's lease, so the
/// other instance never sent it. Now the dropping instance gives the sink up at once and
/// leaves its deliveries to the instance that has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_dropped_by_one_instances_reload_is_sent_by_the_instance_that_still_has_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("dropsink").await else {
        return;
    };
    let feed =
        FeedServer::start(vec![Item::new("old", "North Korean troops in the backlog")]).await;
    let hook = Receiver::ok().await;
    // The second sink's receiver refuses until the reload is done: its delivery is pending
    // then, held by the first instance.
    let second = Receiver::start(Box::new(|_, _| (503, vec![], Duration::ZERO))).await;
    let with_second = format!(
        "{}\n[[sink]]\nname = \"second\"\ntype = \"webhook\"\nurl = \"{}\"\n",
        config(&feed.url(), &hook),
        second.url()
    );
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = start_baselined_with(&db, dir_a.path(), &with_second).await;
    let mut b = on_db(&db, dir_b.path(), &with_second);
    b.start();
    assert!(
        wait_for(Duration::from_secs(30), || b
            .log()
            .contains("one of the instances on this PostgreSQL database"))
        .await,
        "{}",
        b.log()
    );
    feed.push(Item::new("n1", "North Korean troops reach Kursk"));
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1
            && second.arrivals() >= 1)
        .await,
        "A: {}\nB: {}",
        a.log(),
        b.log()
    );
    assert!(
        a.log().contains("this instance sends the sink's queue"),
        "the first instance should hold both sinks: {}",
        a.log()
    );
    a.write_config(&config(&feed.url(), &hook));
    a.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(30), || a
            .log()
            .contains("configuration reloaded"))
        .await,
        "{}",
        a.log()
    );
    second.set_script(Box::new(|_, _| (200, vec![], Duration::ZERO)));
    // Well within the 30 s sink lease the old holder kept renewing: given up at once.
    assert!(
        wait_for(Duration::from_secs(25), || second.delivered().len() == 1).await,
        "the second sink's alert was not sent by the instance that has it\nA: {}\nB: {}",
        a.log(),
        b.log()
    );
    assert!(
        !a.log()
            .contains("no longer configured are now dead letters"),
        "{}",
        a.log()
    );
    assert_eq!(hook.delivered().len(), 1);
    a.stop();
    b.stop();
}

fn titles_of(hook: &Receiver) -> std::collections::HashSet<String> {
    hook.delivered()
        .iter()
        .filter_map(|r| r.body["data"]["title"].as_str().map(String::from))
        .collect()
}

/// `n` characters no compression shortens (PostgreSQL compresses a long index entry before it
/// measures it).
fn incompressible(n: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(x % 36) as usize])
        })
        .collect()
}

/// Regression: PostgreSQL refuses an index entry past about 2,700 bytes. An item with a 4 KB
/// guid (the `seen` key), or a matching item with a 4 KB link (`link_seen`), failed the commit
/// of every poll of its feed, and none of the feed's new items was alerted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_whose_guid_or_link_is_too_long_to_index_are_alerted_once() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("longkeys").await else {
        return;
    };
    let feed =
        FeedServer::start(vec![Item::new("old", "North Korean troops in the backlog")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = start_baselined(&db, dir.path(), &feed, &hook).await;
    feed.push(Item::new(
        &format!("urn:x:{}", incompressible(4000)),
        "North Korean troops: a long guid",
    ));
    let mut long_link = Item::new("n2", "North Korean troops: a long link");
    long_link.link = Some(format!("https://news.example/{}", incompressible(4000)));
    feed.push(long_link);
    feed.push(Item::new("n3", "North Korean troops: a short one"));
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 3).await,
        "{}",
        d.log()
    );
    // Later polls find them seen.
    let polled = feed.requests();
    assert!(
        wait_for(Duration::from_secs(30), || feed.requests() >= polled + 2).await,
        "{}",
        d.log()
    );
    assert_eq!(hook.delivered().len(), 3, "{}", d.log());
    d.stop();
}

/// Regression: `run --once` on PostgreSQL skipped a feed whose host was at its
/// `per_host_concurrency` across instances: the claim answered "busy", as for a feed another
/// instance polls, so nobody polled it that round and the exit code said nothing. Another
/// instance's lease on the host (6 s left: far more than `run --once` takes to make its first
/// claim) keeps it busy; `run --once` asks again every second and polls it once the lease has
/// run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_polls_a_feed_whose_host_was_busy_for_a_moment() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("busyhost").await else {
        return;
    };
    let feed = FeedServer::start(vec![Item::new("a1", "North Korean troops reach Kursk")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&feed.url(), &hook).replace(
        "min_poll_interval = \"1s\"\n",
        "min_poll_interval = \"1s\"\non_new_feed = \"all\"\nper_host_concurrency = 1\n",
    );
    let d = on_db(&db, dir.path(), &cfg);
    let newswatch = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(args)
            .arg("-c")
            .arg(&d.config)
            .env("NW_TEST_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let migrated = newswatch(&["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO feeds (feed, config_url, lease_owner, lease_until, lease_host)
         VALUES ('elsewhere', 'http://127.0.0.1:1/x', 'another-instance', $1, '127.0.0.1')",
    )
    .bind(now_ms + 6_000)
    .execute(&mut conn)
    .await
    .unwrap();
    let out = newswatch(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(feed.requests(), 1, "{err}");
    assert_eq!(hook.delivered().len(), 1, "{err}");
}

/// Regression: `run --once` on PostgreSQL, alone, polled only `per_host_concurrency` of the
/// feeds of one host it started together: the claim counts this instance's own leases, and
/// the others were answered "busy" and left out of the round (exit 0). Twenty feeds of one
/// host, one place: each is polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_alone_polls_every_feed_of_a_host() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(db) = Schema::create("onehost").await else {
        return;
    };
    let feed = FeedServer::start(vec![Item::new("a1", "Weather in Kyiv")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&feed.url(), &hook).replace(
        "min_poll_interval = \"1s\"\n",
        "min_poll_interval = \"1s\"\nper_host_concurrency = 1\n",
    );
    for i in 0..19 {
        cfg.push_str(&format!(
            "\n[[feed]]\nname = \"news{i}\"\nurl = \"{}?n={i}\"\n",
            feed.url()
        ));
    }
    let d = on_db(&db, dir.path(), &cfg);
    let out = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["run", "--once", "-c"])
        .arg(&d.config)
        .env("NW_TEST_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(feed.requests(), 20, "{err}");
}
