//! The state setting: a SQLite file or a PostgreSQL database, inline or by reference, and
//! the errors of each named at their line.

use newswatch::plan::load;

mod common;
use common::{ONE_FEED, write_file as write};

#[test]
fn state_names_a_postgresql_database_inline_or_by_reference_and_a_file_otherwise() {
    use newswatch::store::any::StateLocation;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{ONE_FEED}[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
    );
    let with_state = |state: &str| {
        write(
            dir.path(),
            "main.toml",
            &format!("[daemon]\nstate = \"{state}\"\n\n{body}"),
        )
    };
    let url = "postgres://nw:pw@127.0.0.1:5432/newswatch";
    let plan = load(&with_state(url)).unwrap_or_else(|e| panic!("{e}"));
    match plan.daemon.state_location() {
        StateLocation::Postgres(s) => assert_eq!(s.expose(), url),
        other => panic!("expected PostgreSQL, got {other:?}"),
    }
    // The location prints without the URL, which may carry a password.
    assert_eq!(plan.daemon.state_location().to_string(), "PostgreSQL");
    write(
        dir.path(),
        "db.url",
        "postgresql://nw@localhost/newswatch\n",
    );
    let plan = load(&with_state("file:db.url")).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        plan.daemon.state_location(),
        StateLocation::Postgres(s) if s.expose() == "postgresql://nw@localhost/newswatch"
    ));
    // A plain path stays a file, relative to the configuration.
    let plan = load(&with_state("state/nw.db")).unwrap_or_else(|e| panic!("{e}"));
    match plan.daemon.state_location() {
        StateLocation::File(p) => assert_eq!(p, dir.path().join("state/nw.db")),
        other => panic!("expected a file, got {other:?}"),
    }
    // A reference that resolves to something else, or not at all, is named at its line.
    write(dir.path(), "not.url", "/var/lib/newswatch/state.db\n");
    let text = load(&with_state("file:not.url")).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:2:9: `state` = \"file:not.url\": the reference resolves to something that is not a postgres:// URL"),
        "{text}"
    );
    assert!(!text.contains("/var/lib/newswatch/state.db"), "{text}");
    let text = load(&with_state("env:NEWSWATCH_TEST_UNSET_DATABASE_URL"))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("main.toml:2:9: `state`: environment variable `NEWSWATCH_TEST_UNSET_DATABASE_URL` is not set"),
        "{text}"
    );
}

/// The errors of a configuration whose `[daemon] state` is `state` (a feed, a sink and a
/// watch otherwise valid), as `check` prints them.
fn state_errors(state: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!(
            "[daemon]\nstate = \"{state}\"\n\n{ONE_FEED}\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
        ),
    );
    load(&main).unwrap_err().to_string()
}

/// Regression: a mistyped database URL (`postgress://user:password@…`) was taken for a file
/// path, logged at start and made into folders named after the password.
#[test]
fn a_state_that_looks_like_a_url_but_not_postgresql_is_refused_without_quoting_it() {
    let text = state_errors("postgress://nw:s3cret@db/newswatch");
    assert!(
        text.contains(
            "main.toml:2:9: `state` looks like a URL but not a postgres:// (or postgresql://) one"
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

/// Regression: `check` took any `postgres://` URL (`…@db:99999/…`, a port out of range) and
/// said ok; `run` then refused it with no file or line. It is a `check` error at the line,
/// never quoting the URL (it may carry a password).
#[test]
fn a_postgresql_url_that_cannot_be_opened_is_a_check_error_at_its_line() {
    let text = state_errors("postgres://nw:s3cret@db:99999/newswatch");
    assert!(
        text.contains("main.toml:2:9: `state`: not a valid PostgreSQL URL"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

/// A `state` that is a directory is refused with the path it should have been.
#[test]
fn a_state_that_is_a_directory_is_a_check_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("var")).unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!("[daemon]\nstate = \"var\"\n\n{ONE_FEED}"),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:2:9: `state` = \"var\" is a directory")
            && text.contains("var/newswatch.db"),
        "{text}"
    );
}

/// Regression: `status` on a state file that is no database (or of no release) said only
/// "state database: … file is not a database", naming no file.
#[test]
fn status_on_a_file_that_is_no_state_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.db"), [7u8; 4096]).unwrap();
    let cfg = write(
        dir.path(),
        "n.toml",
        &format!(
            "[daemon]\nstate = \"junk.db\"\nlisten = \"off\"\n{ONE_FEED}\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
        ),
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["status", "-c", cfg.to_str().unwrap()])
        .env_remove("NEWSWATCH_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("cannot read") && err.contains("junk.db"),
        "{err}"
    );
}
