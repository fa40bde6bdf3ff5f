//! What the listener and the operator commands keep to themselves: feed URL credentials never
//! shown (logs, `last_error`, the status API and page, `status`, `try`), the status API and
//! page only for holders of the listen token, and operator commands that need no sink secret.

mod common;

use std::time::Duration;

use common::{Daemon, FeedServer, Item, http_get as get_with, newswatch_env, wait_for};

fn newswatch(args: &[&str]) -> std::process::Output {
    newswatch_env(args, &[])
}

const LISTEN_TOKEN: &str = "listen-token-0123456789";

/// A daemon, started, with a listener on a free loopback port guarded by `LISTEN_TOKEN` (from
/// the environment), one feed at `feed_url`, and a webhook sink that nobody needs to answer.
async fn guarded_daemon(dir: &std::path::Path, feed_url: &str) -> (Daemon, String) {
    let config = |listen: &str| {
        format!(
            "[daemon]\nstate = \"state.db\"\nlisten = \"{listen}\"\nlisten_token = \"env:NW_TEST_LISTEN_TOKEN\"\n\
             poll_interval = \"1s\"\nmin_poll_interval = \"1s\"\n\n\
             [[feed]]\nname = \"members\"\nurl = \"{feed_url}\"\n\n\
             [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n\
             [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n"
        )
    };
    let mut d = Daemon::new(dir, "");
    d.env
        .push(("NW_TEST_LISTEN_TOKEN".into(), LISTEN_TOKEN.into()));
    let listen = d.start_listening(config).await;
    (d, format!("http://{listen}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_url_credentials_showed_in_logs_last_error_api_status_page_and_status() {
    // A members-only feed URL: user info and a token in the query. It answers with an HTML
    // page whose feed link is gone, so the poll fails with an error that quotes both URLs.
    let app = axum::Router::new().route(
        "/page",
        axum::routing::get(|| async {
            axum::response::Html(
                "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" \
                 href=\"/feed.xml?api_key=KEYXYZ123\"></head><body>hi</body></html>",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let feed_url = format!("http://reader:PASSWORDXYZ123@{addr}/page?token=TOKENXYZ123&lang=en");
    let secrets = ["PASSWORDXYZ123", "TOKENXYZ123", "KEYXYZ123"];
    let leaks = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}:\n{text}");
        }
    };

    let dir = tempfile::tempdir().unwrap();
    let (mut d, base) = guarded_daemon(dir.path(), &feed_url).await;
    assert!(
        wait_for(Duration::from_secs(20), || d.log().contains("poll failed")).await,
        "{}",
        d.log()
    );
    let log = d.log();
    assert!(log.contains("which is not a feed either"), "{log}");
    leaks("the log", &log);

    let (s, api) = get_with(&format!("{base}/api/status"), Some(LISTEN_TOKEN)).await;
    assert_eq!(s, 200, "{api}");
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(
        v["feeds"][0]["url"],
        format!("http://redacted@{addr}/page?token=redacted&lang=en")
    );
    let error = v["feeds"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("api_key=redacted"), "{error}");
    leaks("/api/status", &api);
    let (s, page) = get_with(&format!("{base}/"), Some(LISTEN_TOKEN)).await;
    assert_eq!(s, 200);
    assert!(page.contains("which is not a feed either"), "{page}");
    leaks("the status page", &page);

    let cfg = d.config.to_str().unwrap().to_string();
    let env = [("NW_TEST_LISTEN_TOKEN", LISTEN_TOKEN)];
    let o = newswatch_env(&["status", "--json", "-c", &cfg], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    leaks("status --json", &String::from_utf8_lossy(&o.stdout));
    d.stop();
    // From the state file, which holds the error as it was recorded.
    let o = newswatch_env(&["status", "-c", &cfg], &env);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("(state file)") && text.contains("not a feed"),
        "{text}"
    );
    leaks("status", &text);
    let stored: Vec<String> = {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", d.state_path().display()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT last_error FROM feeds")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    leaks("last_error", &stored.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_api_and_page_answered_anyone_who_reached_the_listener() {
    let feed = FeedServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut d, base) = guarded_daemon(dir.path(), &feed.url()).await;
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 1).await,
        "{}",
        d.log()
    );
    assert!(
        wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(base.trim_start_matches("http://")).is_ok()
        })
        .await
    );
    // Regression: one header "Bearer …, Basic …" made browsers offer no login (they read a
    // header's first challenge only): Basic comes first, in a header of its own.
    let refused = reqwest::get(format!("{base}/")).await.unwrap();
    let challenges: Vec<&str> = refused
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        challenges,
        ["Basic realm=\"newswatch\"", "Bearer realm=\"newswatch\""]
    );
    let basic = reqwest::Client::new()
        .get(format!("{base}/"))
        .basic_auth("ops", Some(LISTEN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    for path in ["/", "/api/status"] {
        let url = format!("{base}{path}");
        assert_eq!(get_with(&url, None).await.0, 401, "{path} without a token");
        assert_eq!(
            get_with(&url, Some("listen-token-wrong")).await.0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(get_with(&url, Some(LISTEN_TOKEN)).await.0, 200, "{path}");
    }
    // Monitoring stays open: counts only, nothing about feeds or items.
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            get_with(&format!("{base}{path}"), None).await.0,
            200,
            "{path}"
        );
    }
    // `status` sends the token...
    let cfg = d.config.to_str().unwrap().to_string();
    let o = newswatch_env(
        &["status", "--json", "-c", &cfg],
        &[("NW_TEST_LISTEN_TOKEN", LISTEN_TOKEN)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "daemon");
    // ...and says so when the daemon refuses the one it has.
    let o = newswatch_env(
        &["status", "--json", "-c", &cfg],
        &[("NW_TEST_LISTEN_TOKEN", "listen-token-stale")],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refused the request (401)"), "{err}");
    d.stop();
}

/// Regression: `try` redacted a feed URL's credentials in its errors but printed them in every
/// match line, the `--json` records and the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_never_shows_a_feed_urls_credentials() {
    let feed = FeedServer::start(vec![Item::new("a1", "North Korean troops reach Kursk")]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("w.toml");
    std::fs::write(
        &cfg,
        "[[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n",
    )
    .unwrap();
    let url = feed
        .url()
        .replace("http://", "http://reader:hunter2@")
        .replace("/feed.xml", "/feed.xml?token=s3cret");
    for json in [false, true] {
        let mut args = vec!["try", "-c", cfg.to_str().unwrap(), &url];
        if json {
            args.push("--json");
        }
        let o = newswatch(&args);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(o.status.success(), "{err}");
        assert!(out.contains("North Korean troops reach Kursk"), "{out}");
        for secret in ["hunter2", "s3cret"] {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{out}\n{err}"
            );
        }
    }
}

/// Regression: `status`, `deliveries …` and `migrate` refused to run from an admin's shell,
/// which lacks the daemon's `env:` values and `$CREDENTIALS_DIRECTORY`: they resolved every
/// sink secret, which they never use. `check` and `run` still need them.
#[test]
fn operator_commands_failed_without_the_daemons_sink_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("newswatch.toml");
    std::fs::write(
        &cfg,
        "[daemon]\nstate = \"state.db\"\nlisten = \"off\"\n\n\
         [[feed]]\nurl = \"file:feed.xml\"\n\n\
         [[sink]]\nname = \"newsroom\"\ntype = \"slack\"\nurl = \"env:NW_TEST_UNSET_SLACK\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"env:NW_TEST_UNSET_HOOK\"\n\
         secret = \"file:missing-secret\"\n\n\
         [[sink]]\nname = \"desk\"\ntype = \"matrix\"\nhomeserver = \"https://matrix.example.org\"\n\
         room = \"#desk:example.org\"\naccess_token = \"credential:matrix-token\"\n\n\
         [[sink]]\nname = \"bot\"\ntype = \"telegram\"\nbot_token = \"env:NW_TEST_UNSET_BOT\"\n\
         chat_id = \"-100\"\n\n\
         [[sink]]\nname = \"console\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"kursk\"]\nsinks = [\"newsroom\", \"hook\", \"desk\", \"bot\", \"console\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("feed.xml"),
        "<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid>\
         <title>Troops in Kursk</title></item></channel></rss>",
    )
    .unwrap();
    let feed = dir.path().join("feed.xml");
    let feed = feed.to_str().unwrap();
    let cfg = cfg.to_str().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(args)
            .env_remove("NEWSWATCH_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("NW_TEST_UNSET_SLACK")
            .env_remove("NW_TEST_UNSET_HOOK")
            .env_remove("NW_TEST_UNSET_BOT")
            .output()
            .unwrap()
    };
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let out = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let o = run(&["migrate", "-c", cfg]);
    assert!(o.status.success(), "migrate: {}", err(&o));
    for args in [
        &["status", "-c", cfg][..],
        &["status", "--json", "-c", cfg][..],
        &["deliveries", "retry", "-c", cfg][..],
        &["deliveries", "retry", "--dead", "-c", cfg][..],
        &["deliveries", "purge", "--dead", "-c", cfg][..],
        // Regression: `try` and `backtest`, which never send, needed them too; `send-test`
        // needed every sink's, not only the one it sends to.
        &["try", "-c", cfg, feed][..],
        &["backtest", "-c", cfg][..],
        &["send-test", "console", "-c", cfg][..],
    ] {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", err(&o));
        assert!(!out(&o).contains("unresolved"), "{args:?}: {}", out(&o));
    }
    // The commands that send still name every missing secret.
    for args in [&["check", "-c", cfg][..], &["run", "--once", "-c", cfg][..]] {
        let o = run(args);
        assert!(!o.status.success(), "{args:?}: {}", out(&o));
        for missing in [
            "NW_TEST_UNSET_SLACK",
            "NW_TEST_UNSET_HOOK",
            "missing-secret",
            "credential:matrix-token",
            "NW_TEST_UNSET_BOT",
        ] {
            assert!(err(&o).contains(missing), "{args:?}: {}", err(&o));
        }
    }
    let o = run(&["send-test", "newsroom", "-c", cfg]);
    assert!(!o.status.success());
    assert!(err(&o).contains("NW_TEST_UNSET_SLACK"), "{}", err(&o));
    assert!(!err(&o).contains("NW_TEST_UNSET_BOT"), "{}", err(&o));
    // A malformed value is still an error there: only references may be left unresolved.
    let text = std::fs::read_to_string(cfg).unwrap().replace(
        "url = \"env:NW_TEST_UNSET_SLACK\"",
        "url = \"hooks.slack.com/no-scheme\"",
    );
    std::fs::write(cfg, text).unwrap();
    let o = run(&["status", "-c", cfg]);
    assert!(!o.status.success());
    assert!(err(&o).contains("sink `newsroom`: `url`"), "{}", err(&o));
}
