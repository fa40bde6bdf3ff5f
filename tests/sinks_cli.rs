//! The real binary and chat sinks: `send-test`, and `check` finding template and rate errors.

mod sinks_support;

use std::path::Path;
use std::process::{Command, Output};

use sinks_support::Fake;

async fn newswatch(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(&args)
            .env_remove("NEWSWATCH_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn out(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_delivers_the_sample_and_prints_the_answer() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.path.ends_with("/gone") {
            (404, vec![], "no_service".into())
        } else {
            (200, vec![], "ok".into())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "n.toml",
        &format!(
            "[[sink]]\nname = \"newsroom\"\ntype = \"slack\"\nurl = \"{0}/services/SECRETPATH\"\n\n\
             [[sink]]\nname = \"old\"\ntype = \"slack\"\nurl = \"{0}/services/SECRETPATH/gone\"\n",
            fake.base()
        ),
    );
    let o = newswatch(vec![
        "send-test".into(),
        "newsroom".into(),
        "-c".into(),
        cfg.clone(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("sink `newsroom` (slack): delivered, HTTP 200: ok"),
        "{}",
        out(&o)
    );
    let got = fake.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].body["text"].as_str().unwrap().contains("NATO warns"));

    let o = newswatch(vec![
        "send-test".into(),
        "old".into(),
        "-c".into(),
        cfg.clone(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("permanent failure") && err.contains("HTTP 404: no_service"),
        "{err}"
    );
    assert!(!err.contains("SECRETPATH"), "{err}");

    let o = newswatch(vec![
        "send-test".into(),
        "nope".into(),
        "-c".into(),
        cfg.clone(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sinks: newsroom, old"),
        "{}",
        out(&o)
    );

    // --dry-run prints the body and sends nothing.
    let o = newswatch(vec![
        "send-test".into(),
        "newsroom".into(),
        "-c".into(),
        cfg,
        "--dry-run".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let body: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(body["blocks"][0]["type"], "section");
    assert_eq!(fake.got().len(), 2);

    // Regression: a dry run refused a sink whose URL comes from an environment variable this
    // shell lacks, though it sends nothing and its payload holds no secret.
    let unset = write(
        dir.path(),
        "unset.toml",
        "[[sink]]\nname = \"hook\"\ntype = \"slack\"\nurl = \"env:NW_TEST_UNSET_DRY_RUN\"\n",
    );
    let o = newswatch(vec![
        "send-test".into(),
        "hook".into(),
        "-c".into(),
        unset.clone(),
        "--dry-run".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let body: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(body["blocks"][0]["type"], "section");
    let o = newswatch(vec!["send-test".into(), "hook".into(), "-c".into(), unset]).await;
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("NW_TEST_UNSET_DRY_RUN"),
        "{}",
        out(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_template_and_rate_errors_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "discord.j2",
        "{{ title_link }}\n{% if link %}{{ snippet }{% endif %}\n",
    );
    let cfg = write(
        dir.path(),
        "t.toml",
        "[[sink]]\nname = \"a\"\ntype = \"slack\"\nurl = \"https://hooks.example/x\"\n\
         template = \"{{ tilte }}\"\n\n\
         [[sink]]\nname = \"b\"\ntype = \"discord\"\nurl = \"https://discord.example/x\"\n\
         template_file = \"discord.j2\"\n\n\
         [[sink]]\nname = \"c\"\ntype = \"telegram\"\nbot_token = \"1:x\"\nchat_id = 1\n\
         rate = \"fast\"\ndigest_after = 0\n\n\
         [[sink]]\nname = \"d\"\ntype = \"ntfy\"\ntopic = \"t\"\n\
         template = \"{{ title }}\"\ntemplate_file = \"discord.j2\"\n",
    );
    let o = newswatch(vec!["check".into(), "-c".into(), cfg]).await;
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "t.toml:5:12: sink `a`: template line 1: undefined value in `tilte`",
        "t.toml:11:17: sink `b`: template file",
        "discord.j2` line 2: syntax error: unexpected `}`, expected end of variable block\n",
        "t.toml:18:8: sink `c`: `rate` = \"fast\"",
        "t.toml:19:16: sink `c`: `digest_after` must be an integer from 1 to 10000",
        "t.toml:26:17: sink `d`: set `template` or `template_file`, not both",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_template_is_what_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "ok.toml",
        "[[sink]]\nname = \"chat\"\ntype = \"mattermost\"\nurl = \"https://mm.example/hooks/x\"\n\
         template = '''\n:newspaper: {{ title_link }} ({{ watch }}{% if published %}, {{ published }}{% endif %})\n{{ snippet }}'''\n",
    );
    let o = newswatch(vec!["check".into(), "-c".into(), cfg.clone()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = newswatch(vec![
        "send-test".into(),
        "chat".into(),
        "-c".into(),
        cfg,
        "--dry-run".into(),
    ])
    .await;
    let body: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        body["text"].as_str().unwrap().lines().next(),
        Some(
            ":newspaper: [NATO warns North Korean troop transfers to Ukraine would \"escalate conflict\"](https://www.atalayar.com/en/articles/nato-warns-north-korean-troop-transfers) (dprk-troops, 2024-10-20 09:30 UTC)"
        )
    );
}

/// Review: every command's lines now escape control characters for the terminal, as
/// `\u{9b}`, which is no JSON: `send-test --dry-run` must print its body as JSON still, its DEL
/// and C1 characters escaped the JSON way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_json_with_its_control_characters_escaped_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "d.toml",
        "[[sink]]\nname = \"d\"\ntype = \"discord\"\nurl = \"https://discord.com/api/webhooks/1/t\"\n\
         username = \"bot\\u009b\\u007f x\"\n",
    );
    let o = newswatch(vec![
        "send-test".into(),
        "d".into(),
        "-c".into(),
        cfg,
        "--dry-run".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains(['\u{9b}', '\u{7f}']), "{text:?}");
    let body: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(body["username"], "bot\u{9b}\u{7f} x");
}
