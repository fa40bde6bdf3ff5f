//! The poll budget against a store slower than the fetches: a local HTTP server counts the
//! feeds fetched while another connection holds the state database's write lock, so no poll
//! can store its result.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sqlx::Connection as _;

use super::schedule_tests::context;
use super::*;
use crate::feed::limits::{FetchLimits, POLLS_PER_FETCH_SLOT};
use crate::store::sqlite::SqliteStore;

const RSS: &str = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
    <item><guid>a</guid><title>one</title></item><item><guid>b</guid><title>two</title></item>\
    </channel></rss>";

/// A feed server on 127.0.0.1 that counts the requests it answered.
async fn serve() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/{name}",
            get(|State(h): State<Arc<AtomicUsize>>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "application/rss+xml")], RSS)
            }),
        )
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

/// Regression (issue 14, the 100,000-feed first round at 1.97 GB): fetch permits were
/// released before the store write, so while the store lagged, every due feed was fetched
/// and parsed and waited in memory for its commit. Now at most the poll budget is between
/// fetch and stored result, and every feed is still stored once the store catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_fetched_and_not_yet_stored_never_exceed_the_poll_budget() {
    let (addr, hits) = serve().await;
    let feeds = 5 * POLLS_PER_FETCH_SLOT;
    let mut toml = "[daemon]\nmax_concurrent_fetches = 1\nper_host_concurrency = 64\n".to_string();
    for i in 0..feeds {
        toml.push_str(&format!(
            "\n[[feed]]\nname = \"f{i}\"\nurl = \"http://{addr}/f{i}\"\n"
        ));
    }
    let plan = Arc::new(crate::plan::load_str(std::path::Path::new("t.toml"), toml).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let limits = Arc::new(FetchLimits::new(1, 64));
    let ctx = context(store, limits.clone());
    let (_tx, rx) = watch::channel(plan);
    let sched = Scheduler::new(ctx.clone(), rx).await.unwrap();

    // Another connection takes the write lock: the store can read but not commit.
    let mut blocker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let tracker = TaskTracker::new();
    let run = tokio::spawn(async move { sched.run_once(&tracker).await });
    // Real sockets: real time. Long enough for every feed to be fetched were nothing
    // holding them back (a local fetch takes about a millisecond).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fetched = hits.load(Ordering::SeqCst);
    assert_eq!(
        fetched, POLLS_PER_FETCH_SLOT,
        "fetched while nothing could be stored"
    );
    assert_eq!(limits.free_poll_slots(), 0);

    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the round finishes once the store takes writes")
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), feeds, "each feed fetched once");
    let states = ctx.store.feed_states().await.unwrap();
    assert_eq!(states.len(), feeds);
    assert!(states.iter().all(|s| s.baselined), "{states:?}");
    assert_eq!(limits.free_poll_slots(), POLLS_PER_FETCH_SLOT);
}

/// Regression (issue 14, 100,000 feeds: 88 MB of poll tasks): every due feed got a task at
/// once, and while the daemon was behind, tens of thousands of them waited for permits. Now a
/// host has at most its cap of tasks (its other due feeds wait as names), and a host that does
/// not answer holds only its own: the feeds of another host are polled meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_hangs_holds_its_own_few_tasks_and_the_others_are_polled() {
    // Accepts connections (the kernel does, into the backlog) and never answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = hung.local_addr().unwrap();
    let (addr, hits) = serve().await;
    let mut toml =
        "[daemon]\nmax_concurrent_fetches = 4\nper_host_concurrency = 1\nfetch_timeout = \"30s\"\n"
            .to_string();
    let slow = 40;
    for i in 0..slow {
        toml.push_str(&format!(
            "\n[[feed]]\nname = \"slow{i}\"\nurl = \"http://{hung_addr}/f{i}\"\n"
        ));
    }
    // Another host: the same server under a name it also answers to.
    let fast = 5;
    for i in 0..fast {
        toml.push_str(&format!(
            "\n[[feed]]\nname = \"fast{i}\"\nurl = \"http://localhost:{}/f{i}\"\n",
            addr.port()
        ));
    }
    let plan = Arc::new(crate::plan::load_str(std::path::Path::new("t.toml"), toml).unwrap());
    let store = SqliteStore::in_memory().await.unwrap();
    let ctx = context(store, Arc::new(FetchLimits::new(4, 1)));
    let (_tx, rx) = watch::channel(plan);
    let mut s = Scheduler::new(ctx.clone(), rx).await.unwrap();
    let (host_cap, total_cap) = (s.admission.host_cap(), s.admission.total_cap());
    assert_eq!(
        (host_cap, total_cap),
        (POLLS_PER_FETCH_SLOT, 4 * 4 * POLLS_PER_FETCH_SLOT)
    );

    // Everything is due now.
    let due = s.heap.len();
    assert_eq!(due, slow + fast);
    let (done_tx, mut done_rx) = mpsc::channel(64);
    let tracker = TaskTracker::new();
    s.take_due(Instant::now() + Duration::from_secs(3600));
    s.admit(&done_tx, &tracker);
    assert_eq!(
        s.admission.started(),
        host_cap + fast,
        "the hung host gets its cap of tasks, the other host all of its feeds"
    );
    assert_eq!(s.admission.queued(), slow - host_cap);
    assert_eq!(
        s.in_flight.len(),
        slow + fast,
        "queued feeds count as in flight"
    );

    // The other host's feeds are polled while the hung host holds its permit.
    for _ in 0..fast {
        let done = tokio::time::timeout(Duration::from_secs(20), done_rx.recv())
            .await
            .expect("a feed of the answering host was held back by the hung one")
            .unwrap();
        assert!(done.feed.starts_with("fast"), "{}", done.feed);
        s.finished(done);
        s.admit(&done_tx, &tracker);
    }
    assert_eq!(hits.load(Ordering::SeqCst), fast);
    assert_eq!(s.admission.started(), host_cap);
    assert_eq!(s.admission.queued(), slow - host_cap);
    drop(hung);
}

/// Regression: `per_host_concurrency` counted a feed under its configured host, also once a
/// permanent redirect had moved it to another: feeds of different hosts moved to one host
/// were fetched from it all at once. Two such feeds, moved to a host that never answers, with
/// one fetch per host: only one connection is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_moved_to_one_host_share_its_per_host_limit() {
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hung.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let held = connections.clone();
    let server = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    // Configured under two other hosts (never fetched: the moves are followed).
    let plan = Arc::new(
        crate::plan::load_str(
            std::path::Path::new("t.toml"),
            "[daemon]\nfetch_timeout = \"30s\"\n\n[[feed]]\nname = \"a\"\nurl = \"http://localhost:1/a\"\n\n\
             [[feed]]\nname = \"b\"\nurl = \"http://127.0.0.2:1/b\"\n"
                .to_string(),
        )
        .unwrap(),
    );
    let ctx = context(
        SqliteStore::in_memory().await.unwrap(),
        Arc::new(FetchLimits::new(4, 1)),
    );
    let (_tx, current) = watch::channel(plan.clone());
    let (done, _done_rx) = mpsc::channel(4);
    let tracker = TaskTracker::new();
    for feed in &plan.feeds {
        let state = crate::store::FeedState {
            feed: feed.name.clone(),
            config_url: feed.source.to_string(),
            moved_url: Some(format!("http://127.0.0.1:{port}/{}", feed.name)),
            baselined: true,
            ..Default::default()
        };
        tracker.spawn(
            Poll {
                ctx: ctx.clone(),
                plan: plan.clone(),
                current: current.clone(),
                feed: feed.clone(),
                host: host_key(&feed.source),
                state: Some(state),
                done: done.clone(),
            }
            .run(),
        );
    }
    // Real sockets: real time; a local connection takes well under a millisecond.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "both moved feeds fetched at once from their new host"
    );
    server.abort();
}

/// Regression (a review of the fix above): the poll of a moved feed took its new host's
/// permit, but the admission still counted it under its configured host, so feeds of many
/// hosts moved to one (a feed hosting service) all got a task and waited there for its
/// permits, holding the tasks every other host needs. A poll's `Done` says where it fetched
/// from; the admission counts the feed there from then on: ten feeds of ten hosts, moved to
/// one with one permit, get that host's cap of tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admission_counts_a_moved_feed_with_the_host_it_moved_to() {
    let mut toml = "[daemon]\nper_host_concurrency = 1\n".to_string();
    let feeds = 10;
    for i in 0..feeds {
        toml.push_str(&format!(
            "\n[[feed]]\nname = \"f{i}\"\nurl = \"http://127.0.0.{}:1/f{i}\"\n",
            i + 2
        ));
    }
    let plan = Arc::new(crate::plan::load_str(std::path::Path::new("t.toml"), toml).unwrap());
    let ctx = context(
        SqliteStore::in_memory().await.unwrap(),
        Arc::new(FetchLimits::new(4, 1)),
    );
    let (tx, rx) = watch::channel(plan.clone());
    let mut s = Scheduler::new(ctx, rx).await.unwrap();
    let host_cap = s.admission.host_cap();
    assert!(host_cap < feeds);
    // Each feed's last poll fetched from the host it moved to.
    for f in &plan.feeds {
        s.finished(Done {
            feed: f.name.clone(),
            host: host_key(&f.source),
            lives_on: Some((f.source.clone(), "moved.example".into())),
            next_in: Some(Duration::ZERO),
            failed: false,
        });
    }
    let (done_tx, _done_rx) = mpsc::channel(64);
    let tracker = TaskTracker::new();
    s.take_due(Instant::now() + Duration::from_secs(3600));
    s.admit(&done_tx, &tracker);
    assert_eq!(
        s.admission.started(),
        host_cap,
        "counted under the host moved to"
    );
    assert_eq!(s.admission.queued(), feeds - host_cap);
    // A reload that gives a feed another address forgets its move.
    let mut changed = (*plan).clone();
    changed.feeds[0].source =
        crate::config::FeedSource::Http("http://127.0.0.1:1/new".parse().unwrap());
    tx.send(Arc::new(changed)).unwrap();
    s.sync_plan(None);
    assert!(!s.moved_hosts.contains_key("f0"));
    assert_eq!(s.moved_hosts["f1"], "moved.example");
}

/// The moves a last run stored are counted from the first poll after a start (the hint is not
/// only learnt from polls), and a poll that ran under an address a reload has since changed
/// teaches nothing: its feed now lives where its new address is.
#[tokio::test]
async fn moves_are_read_at_start_and_a_poll_under_an_old_address_teaches_nothing() {
    let toml = "[[feed]]\nname = \"a\"\nurl = \"http://old-a.example/rss\"\n\n\
                [[feed]]\nname = \"b\"\nurl = \"http://b.example/rss\"\n";
    let plan =
        Arc::new(crate::plan::load_str(std::path::Path::new("t.toml"), toml.into()).unwrap());
    let store = SqliteStore::in_memory().await.unwrap();
    let now = crate::store::now_millis();
    for (feed, moved) in [
        ("a", "https://hosting.example/a"),
        ("b", "https://b.example/rss2"),
    ] {
        store
            .commit_poll(&crate::store::PollCommit {
                feed: feed.into(),
                config_url: plan.feed(feed).unwrap().source.to_string(),
                moved_url: Some(moved.into()),
                now,
                next_poll_at: now,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let ctx = context(store, Arc::new(FetchLimits::new(4, 1)));
    let (tx, rx) = watch::channel(plan.clone());
    let mut s = Scheduler::new(ctx, rx).await.unwrap();
    // `b` moved on its own host: nothing to count elsewhere.
    assert_eq!(
        s.moved_hosts,
        HashMap::from([("a".to_string(), "hosting.example".to_string())])
    );
    // A reload moves `a` to a host of its own while a poll under its old address runs.
    let mut changed = (*plan).clone();
    changed.feeds[0].source =
        crate::config::FeedSource::Http("http://new-a.example/rss".parse().unwrap());
    tx.send(Arc::new(changed)).unwrap();
    s.sync_plan(None);
    assert!(s.moved_hosts.is_empty());
    s.finished(Done {
        feed: "a".into(),
        host: "hosting.example".into(),
        lives_on: Some((plan.feeds[0].source.clone(), "hosting.example".into())),
        next_in: Some(Duration::from_secs(60)),
        failed: false,
    });
    assert!(
        s.moved_hosts.is_empty(),
        "learnt from a poll under the old address"
    );
}

/// Regression (a review): a poll told the scheduler where its feed lived *before* it, so the
/// poll that found a move (or undid one) left the admission counting the next poll with the
/// host the feed had left. Now its `Done` says where the poll stored that the feed lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_that_moves_a_feed_or_undoes_its_move_says_where_it_lives_now() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The redirect names another host: `127.0.0.1` for `localhost`.
    let to = format!("http://127.0.0.1:{port}/new");
    let app = Router::new()
        .route(
            "/old",
            get(move || async move { axum::response::Redirect::permanent(&to) }),
        )
        .route(
            "/new",
            get(|| async { ([("content-type", "application/rss+xml")], RSS) }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // Configured on one host name, moved (by an absolute redirect) to another.
    let plan = Arc::new(
        crate::plan::load_str(
            std::path::Path::new("t.toml"),
            format!(
                "[[feed]]\nname = \"moving\"\nurl = \"http://localhost:{port}/old\"\n\n\
                 [[feed]]\nname = \"back\"\nurl = \"http://localhost:{port}/new\"\n"
            ),
        )
        .unwrap(),
    );
    let ctx = context(
        SqliteStore::in_memory().await.unwrap(),
        Arc::new(FetchLimits::new(4, 2)),
    );
    let (_tx, current) = watch::channel(plan.clone());
    let (done, mut reported) = mpsc::channel(4);
    let poll = |feed: &FeedPlan, state: Option<crate::store::FeedState>| Poll {
        ctx: ctx.clone(),
        plan: plan.clone(),
        current: current.clone(),
        feed: feed.clone(),
        host: host_key(&feed.source),
        state,
        done: done.clone(),
    };
    let moving = plan.feed("moving").unwrap();
    poll(moving, None).run().await;
    let d = reported.recv().await.unwrap();
    assert!(!d.failed);
    assert_eq!(
        d.lives_on,
        Some((moving.source.clone(), "127.0.0.1".into()))
    );

    // A moved feed whose new URL failed three times asks its configured URL, which answers:
    // the move is undone, and the feed lives on its configured host again.
    let back = plan.feed("back").unwrap();
    let state = crate::store::FeedState {
        feed: "back".into(),
        config_url: back.source.to_string(),
        moved_url: Some("http://127.0.0.1:9/gone".into()),
        failures: 3,
        baselined: true,
        ..Default::default()
    };
    poll(back, Some(state)).run().await;
    let d = reported.recv().await.unwrap();
    assert!(!d.failed);
    assert_eq!(d.lives_on, Some((back.source.clone(), "localhost".into())));
}
