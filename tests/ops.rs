//! Operations end to end: the HTTP listener, sd_notify, logs, `status` and `deliveries retry`
//! (what the listener and operator commands keep to themselves: `ops_credentials.rs`).

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, http_get, newswatch_env, wait_for};

fn config(feed: &FeedServer, hook_url: &str, listen: &str) -> String {
    format!(
        "[daemon]\nstate = \"state.db\"\nlisten = \"{listen}\"\npoll_interval = \"1s\"\nmin_poll_interval = \"1s\"\n\n\
         [[feed]]\nname = \"news\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{hook_url}\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n",
        feed.url()
    )
}

async fn get(url: &str) -> (u16, String) {
    http_get(url, None).await
}

fn newswatch(args: &[&str]) -> std::process::Output {
    newswatch_env(args, &[])
}

/// A daemon with its listener on a free port, past its first two polls of `feed`: the daemon
/// and the listener's base URL.
async fn listening(feed: &FeedServer, hook: &Receiver, dir: &std::path::Path) -> (Daemon, String) {
    let mut d = Daemon::new(dir, "");
    let listen = d
        .start_listening(|listen| config(feed, &hook.url(), listen))
        .await;
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    (d, format!("http://{listen}"))
}

/// Regression: the listener closed as soon as a stop began, while the daemon still waited
/// (up to `shutdown_grace`) for a send in flight: `/healthz` refused connections and monitoring
/// saw a dead process. It answers until the exit; `/readyz` says 503 "stopping".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_answers_while_a_stop_waits_for_a_send() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::start(Box::new(|n, _| {
        let delay = if n == 0 {
            Duration::from_secs(4)
        } else {
            Duration::ZERO
        };
        (200, vec![], delay)
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (mut d, base) = listening(&feed, &hook, dir.path()).await;
    feed.push(Item::new("s1", "North Korean troops cross the border"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.arrivals() == 1).await,
        "{}",
        d.log()
    );
    d.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200, "{}", d.log());
    assert_eq!(
        get(&format!("{base}/readyz")).await,
        (503, "stopping\n".to_string())
    );
    let status = d.wait(Duration::from_secs(40));
    assert_eq!(status.map(|s| s.code()), Some(Some(0)), "{}", d.log());
    assert_eq!(hook.delivered().len(), 1, "the send finished: {}", d.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_serves_health_metrics_status_and_the_page() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut d, base) = listening(&feed, &hook, dir.path()).await;
    feed.push(Item::new("m1", "North Korean troops <b>seen</b>"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    assert_eq!(get(&format!("{base}/readyz")).await.0, 200);
    // Give the 304 counter a poll or two.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The receiver records the request before it answers, and the daemon marks the delivery
    // sent only once it has the answer: wait for the outbox to show it, rather than race it.
    let (s, m) = get_until(
        &format!("{base}/metrics"),
        "newswatch_outbox_pending 0",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(s, 200);
    for needle in [
        "newswatch_polls_total{result=\"ok\"}",
        "newswatch_polls_total{result=\"not_modified\"}",
        "newswatch_fetch_duration_seconds_bucket",
        "newswatch_items_parsed_total",
        "newswatch_matches_total{watch=\"troops\"} 1",
        "newswatch_outbox_pending 0",
        "newswatch_outbox_oldest_pending_age_seconds",
        "newswatch_dead_letters 0",
        "newswatch_feeds_failing 0",
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
    let (s, j) = get(&format!("{base}/api/status")).await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["feeds"][0]["name"], "news");
    assert_eq!(v["watches"][0]["alerts"], 1);
    assert_eq!(v["recent_alerts"][0]["title"], "North Korean troops seen");
    let (s, page) = get(&format!("{base}/")).await;
    assert_eq!(s, 200);
    assert!(page.contains("<h2>Feeds</h2>") && page.contains("news"));
    assert!(page.contains("North Korean troops seen"));
    // Regression: without a token the listener answered any `Host`, so a web page the
    // operator opened could rebind its own name to 127.0.0.1 and read the status as its own
    // origin. Only localhost and loopback addresses are answered; every answer forbids
    // scripts, framing, sniffing and caching.
    let client = reqwest::Client::new();
    let port = base.rsplit_once(':').map(|(_, p)| p).unwrap();
    for path in ["/", "/api/status", "/metrics", "/healthz"] {
        let r = client
            .get(format!("{base}{path}"))
            .header(reqwest::header::HOST, format!("evil.example:{}", port))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 421, "{path} for evil.example");
    }
    let r = client
        .get(format!("{base}/"))
        .header(reqwest::header::HOST, format!("localhost:{}", port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"),
        "{h:?}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    // `status` asks the running daemon.
    let cfg = d.config.to_str().unwrap().to_string();
    let o = newswatch(&["status", "-c", &cfg, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "daemon");
    // Regression: the request went through an `http_proxy` in the environment (loopback
    // included), handing that host the listen_token; the daemon is asked directly.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let o = newswatch_env(
        &["status", "-c", &cfg, "--json"],
        &[
            ("http_proxy", &proxy_url),
            ("HTTP_PROXY", &proxy_url),
            ("ALL_PROXY", &proxy_url),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "daemon");
    assert!(proxy.accept().is_err(), "status went through the proxy");
    d.stop();
    // ...and reads the state file when the daemon is gone.
    let o = newswatch(&["status", "-c", &cfg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("(state file)"), "{text}");
    assert!(text.contains("news") && text.contains("troops"), "{text}");
    // Regression: `status | head` panicked on the closed pipe (exit 101).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["status", "-c", &cfg])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notifications_follow_the_lifecycle() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook.url(), "off"));
    d.env
        .push(("NOTIFY_SOCKET".into(), sock_path.display().to_string()));
    d.env.push(("WATCHDOG_USEC".into(), "1000000".into()));
    d.start();
    let mut got: Vec<String> = Vec::new();
    let recv = |got: &mut Vec<String>, until: &dyn Fn(&[String]) -> bool| {
        let started = std::time::Instant::now();
        let mut buf = [0u8; 4096];
        while started.elapsed() < Duration::from_secs(20) && !until(got) {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    };
    recv(&mut got, &|g| {
        g.iter().any(|m| m.starts_with("READY=1"))
            && g.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2
    });
    let ready = got.iter().find(|m| m.starts_with("READY=1")).cloned();
    assert!(
        ready
            .as_deref()
            .is_some_and(|m| m.contains("STATUS=1 feeds (0 failing), 0 pending, 0 dead")),
        "{got:?}"
    );
    assert!(
        got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2,
        "{got:?}"
    );
    d.signal("HUP");
    recv(&mut got, &|g| {
        g.iter().any(|m| m == "RELOADING=1") && g.last().is_some_and(|m| m.starts_with("READY=1"))
    });
    let reload_at = got
        .iter()
        .position(|m| m == "RELOADING=1")
        .expect("RELOADING=1");
    assert!(
        got[reload_at..]
            .iter()
            .any(|m| m.starts_with("READY=1\nSTATUS=configuration reloaded")),
        "{got:?}"
    );
    d.signal("TERM");
    recv(&mut got, &|g| g.iter().any(|m| m == "STOPPING=1"));
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");
    assert_eq!(
        d.wait(Duration::from_secs(15)).map(|s| s.code()),
        Some(Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_show_secrets_and_speak_journald_under_systemd() {
    let feed = FeedServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9: every delivery fails and is logged.
    let secret_url = "http://127.0.0.1:9/hooks/T000/B000/SECRETTOKEN123";
    std::fs::write(
        dir.path().join("sig"),
        "whsec_U0VDUkVUU0lHTklaU0VDUkVUU0lHTkla\n",
    )
    .unwrap();
    let cfg = config(&feed, secret_url, "off").replace(
        "type = \"webhook\"",
        "type = \"webhook\"\nsecret = \"file:sig\"",
    );
    let mut d = Daemon::new(dir.path(), &cfg);
    d.env.push(("JOURNAL_STREAM".into(), "8:12345".into()));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    feed.push(Item::new("s1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(20), || d.log().contains("will retry")).await,
        "{}",
        d.log()
    );
    let log = d.log();
    assert!(!log.contains("SECRETTOKEN123"), "{log}");
    assert!(!log.contains("U0VDUkVUU0lHTkla"), "{log}");
    assert!(!log.contains("SECRETSIGNIZ"), "{log}");
    // journald style: priority prefix, no timestamp.
    let warn = log.lines().find(|l| l.contains("will retry")).unwrap();
    assert!(
        warn.starts_with("<4>WARN newswatch::deliver::dispatcher::record: "),
        "{warn}"
    );
    assert!(log.lines().any(|l| l.starts_with("<6>INFO")), "{log}");
    d.kill9();
    // JSON on request.
    d.env.clear();
    d.args = vec!["--log-format".into(), "json".into()];
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || d
            .log()
            .contains("\"level\":\"INFO\""))
        .await,
        "{}",
        d.log()
    );
    assert!(!d.log().contains("SECRETTOKEN123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_can_be_requeued() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::start(Box::new(|n, _| {
        (if n == 0 { 400 } else { 200 }, vec![], Duration::ZERO)
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook.url(), "off"));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    feed.push(Item::new("d1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.got().len() == 1).await,
        "{}",
        d.log()
    );
    let cfg = d.config.to_str().unwrap().to_string();
    let status = || {
        let o = newswatch(&["status", "-c", &cfg, "--json"]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap_or_default()
    };
    // The receiver records the request before it answers 400, and the daemon stores the dead
    // letter only once it has the answer: wait for it, rather than race it.
    assert!(
        wait_for(Duration::from_secs(20), || status()["dead"] == 1).await,
        "{}\n{}",
        status(),
        d.log()
    );
    let v = status();
    assert_eq!(v["dead"], 1, "{v}");
    assert_eq!(v["dead_letters"][0]["last_error"], "HTTP 400");
    let o = newswatch(&["deliveries", "retry", "--dead", "-c", &cfg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 dead letters back in the queue"));
    // The running daemon picks it up.
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
}

#[test]
fn deliveries_retry_outside_systemd_created_an_empty_state_file_and_reported_nothing_due() {
    // Outside systemd, no `state` set, run from a folder that has no state file.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("newswatch.toml");
    std::fs::write(&cfg, "[daemon]\nlisten = \"off\"\n").unwrap();
    let cfg = cfg.to_str().unwrap();
    let run = |args: &[&str], state_directory: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"));
        c.args(args).current_dir(dir.path());
        match state_directory {
            Some(d) => c.env("STATE_DIRECTORY", d),
            None => c.env_remove("STATE_DIRECTORY"),
        };
        c.output().unwrap()
    };
    for args in [
        &["deliveries", "retry", "-c", cfg][..],
        &["deliveries", "retry", "--dead", "-c", cfg][..],
        &["deliveries", "purge", "--dead", "-c", cfg][..],
        &["status", "-c", cfg][..],
        &["status", "--json", "-c", cfg][..],
    ] {
        let o = run(args, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded: {err}");
        let tried = dir.path().join("newswatch.db");
        assert!(
            err.contains(&format!("no state file at {}", tried.display())),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("neither `[daemon] state` nor $STATE_DIRECTORY is set"),
            "{args:?}: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("due now"),
            "{args:?}"
        );
        assert!(!tried.exists(), "{args:?} created {}", tried.display());
        // Regression: `status` said "the daemon is not answering" though with `listen = "off"`
        // it never asked one.
        if args[0] == "status" {
            assert!(err.contains("`listen` is off (no daemon to ask)"), "{err}");
            assert!(!err.contains("not answering"), "{err}");
        }
    }

    // Under systemd the folder comes from $STATE_DIRECTORY, and the message says so.
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    let o = run(&["deliveries", "retry", "-c", cfg], Some(&state_dir));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("$STATE_DIRECTORY (systemd's"), "{err}");
    assert!(!state_dir.join("newswatch.db").exists());
    assert_eq!(std::fs::read_dir(&state_dir).unwrap().count(), 0);
}

/// GET `url` until its body contains `needle` or `limit` passes: the last (status, body).
async fn get_until(url: &str, needle: &str, limit: Duration) -> (u16, String) {
    let started = std::time::Instant::now();
    loop {
        let (s, body) = get(url).await;
        if body.contains(needle) || started.elapsed() > limit {
            return (s, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Store alerts of feed `feed` for the sink `hook` in the state file `state`, one per
/// `(key, dead)`: a dead letter since `dead` days ago, or (`None`) one waiting to be sent.
async fn store_letters(state: &std::path::Path, feed: &str, letters: &[(&str, Option<i64>)]) {
    use newswatch::store::sqlite::SqliteStore;
    use newswatch::store::{NewDelivery, PollCommit, Store, now_millis};
    let store = SqliteStore::open(state).await.unwrap();
    let now = now_millis();
    let d = |k: &str| NewDelivery {
        idem_key: k.into(),
        sink: "hook".into(),
        watch: "w".into(),
        item_key: k.into(),
        alert_json: "{}".into(),
        canonical_link: None,
    };
    store
        .commit_poll(&PollCommit {
            feed: feed.into(),
            config_url: format!("file:{feed}"),
            now,
            item_keys: letters.iter().map(|l| l.0.to_string()).collect(),
            deliveries: letters.iter().map(|l| d(l.0)).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    let claimed = store.claim_due("hook", now, now + 1000, 100).await.unwrap();
    assert_eq!(claimed.len(), letters.len());
    for (c, (key, dead)) in claimed.iter().zip(letters) {
        assert_eq!(c.idem_key, *key);
        if let Some(days) = dead {
            let at = now - days * 86_400_000;
            store
                .mark_dead(&[c.id], "HTTP 400", at, c.claimed_until)
                .await
                .unwrap();
        } else {
            store.release(&[c.id], c.claimed_until).await.unwrap();
        }
    }
}

/// The outbox's counts in the state file `state`.
async fn outbox_of(state: &std::path::Path) -> newswatch::store::OutboxSummary {
    let store = newswatch::store::sqlite::SqliteStore::open(state)
        .await
        .unwrap();
    newswatch::store::Store::outbox_summary(&store)
        .await
        .unwrap()
}

/// `deliveries purge --dead [--older-than D]` deletes dead letters, and only those.
#[tokio::test]
async fn deliveries_purge_deletes_dead_letters_older_than_asked() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let cfg = dir.path().join("newswatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate = \"{}\"\nlisten = \"off\"\n\n[[sink]]\nname = \"hook\"\ntype = \"stdout\"\n",
            state.display()
        ),
    )
    .unwrap();
    store_letters(
        &state,
        "f",
        &[("old", Some(3)), ("new", Some(0)), ("waiting", None)],
    )
    .await;
    let purge = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(["deliveries", "purge", "--dead", "-c"])
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        purge(&["--older-than", "1d"]).trim(),
        "1 dead letters deleted"
    );
    assert_eq!(purge(&[]).trim(), "1 dead letters deleted");
    let sum = outbox_of(&state).await;
    assert_eq!(
        (sum.dead, sum.pending),
        (0, 1),
        "the pending delivery stays"
    );
}

/// Regression: `run --once` returned before the hourly prune ever ran, so a setup that runs
/// it from a timer kept dead letters, sent deliveries and archived items for ever.
#[tokio::test]
async fn run_once_prunes_old_state_as_the_daemon_does() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let cfg = dir.path().join("newswatch.toml");
    std::fs::write(
        dir.path().join("feed.xml"),
        "<rss version=\"2.0\"><channel><title>t</title></channel></rss>",
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate = \"{}\"\nlisten = \"off\"\ndead_retention = \"30days\"\n\n\
             [[feed]]\nname = \"f\"\nurl = \"file:feed.xml\"\n\n\
             [[sink]]\nname = \"hook\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"kursk\"]\n",
            state.display()
        ),
    )
    .unwrap();
    store_letters(&state, "old", &[("old", Some(40)), ("recent", Some(0))]).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["run", "--once", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    // Dead letters from before this run do not make it fail.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum = outbox_of(&state).await;
    assert_eq!(
        sum.dead, 1,
        "the 40-day-old dead letter is pruned, the recent one kept"
    );
}
