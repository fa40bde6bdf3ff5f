//! Command-line glue: argument parsing and the subcommands.
//!
//! Owns [`Cli`] and [`main`]. Each subcommand lives in its own file and returns an exit code;
//! `anyhow` is used only here, at the edge, to carry errors to the one place that prints them.

/// `println!` for a command's report lines: a reader that closed the pipe (`| head`,
/// `| grep -q`) has read what it wanted, which is no failure of the command; `println!`
/// panicked there (exit 101 after `deliveries retry` had done its work).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say_line(format_args!($($arg)*))
    };
}

/// `eprintln!` for a command's errors and warnings: stderr is a pipe too (`check 2>&1 |
/// head -1`), and `eprintln!` panicked when its reader had gone (exit 101 instead of the
/// command's own exit code). A line that cannot be written is dropped: there is nowhere left
/// to say so.
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::cli::tell_line(format_args!($($arg)*))
    };
}

mod backtest;
mod check;
mod run;
mod sendtest;
mod status;
mod tryout;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::feed::page::FullTextMode;

/// Watches news feeds for the stories you cannot miss and alerts chat or webhooks.
#[derive(Debug, Parser)]
#[command(name = "newswatch", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll feeds, match, deliver alerts. SIGHUP reloads, SIGTERM stops.
    Run {
        /// Configuration file [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Poll every feed once, deliver what is due, and exit (0 if everything was delivered).
        #[arg(long)]
        once: bool,
        /// Listen on this address instead of `[daemon] listen` ("off": no listener), so several
        /// instances on one host share one configuration file (`newswatch@.service`).
        #[arg(long, value_name = "ADDR|off")]
        listen: Option<String>,
        /// Log format: auto (journald style under systemd, text otherwise), text, json, journald.
        #[arg(long, value_enum, default_value = "auto")]
        log_format: crate::ops::logging::LogFormat,
    },
    /// Show feeds, watches, the outbox and dead letters: from the running daemon's
    /// /api/status, or read-only from the state file when it is not running.
    Status {
        /// Configuration file [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Work on the delivery outbox.
    Deliveries {
        #[command(subcommand)]
        command: DeliveriesCommand,
        /// Configuration file [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long, global = true)]
        config: Option<PathBuf>,
    },
    /// Create or upgrade the state's tables and exit (the daemon also does at start).
    Migrate {
        /// Configuration file [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Validate the configuration; list every error with file, line and column.
    Check {
        /// Configuration file [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Deliver a sample alert (the seed article) to one sink and print the platform's answer.
    SendTest {
        /// The sink's `name` in the configuration.
        sink: String,
        /// Configuration file [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Print the JSON body that would be sent, and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read feeds (URL, file or `-` for stdin) and show which items would alert and why.
    /// Changes no state and sends nothing.
    Try {
        /// Configuration file with the watches [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Print one JSON object per line per match.
        #[arg(long)]
        json: bool,
        /// Also print items that matched no watch.
        #[arg(long)]
        all: bool,
        /// Fetch each item's article page and match its main text as the `body` field:
        /// `--full-text` (every item) or `--full-text=auto` (only items whose own text is
        /// shorter than `full_text_min_chars`).
        #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
              default_missing_value = "always", value_parser = ["auto", "always"])]
        full_text: Option<String>,
        /// Feed URLs, files, names of configured feeds, or `-` for standard input.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Run the watches over the item archive: what they would have sent, per day, per sink.
    /// Reads the state file beside a running daemon; changes nothing, sends nothing.
    Backtest {
        /// Configuration file with the watches, current or a candidate pointing at the same
        /// state [default: $NEWSWATCH_CONFIG, else /etc/newswatch/newswatch.toml]
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Only this watch (repeatable); default: every watch.
        #[arg(long = "watch", value_name = "NAME")]
        watches: Vec<String>,
        /// Only items first seen within this long (e.g. `7d`); default: the whole archive.
        #[arg(long, value_name = "DURATION", value_parser = crate::config::duration::parse_duration)]
        since: Option<std::time::Duration>,
        /// Print one JSON document: per watch its alerts, counts per day and per sink.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DeliveriesCommand {
    /// Send waiting deliveries now, skipping their backoff; with --dead, put dead letters back
    /// in the queue instead.
    Retry {
        /// Re-queue dead letters (attempts reset) of sinks still configured.
        #[arg(long)]
        dead: bool,
    },
    /// Delete dead letters for good (they are also pruned after `dead_retention`).
    Purge {
        /// Required: what to purge (dead letters are the only deliveries that can be purged).
        #[arg(long, required = true)]
        dead: bool,
        /// Only dead letters that failed longer ago than this (e.g. `7d`); default: all.
        #[arg(long, value_name = "DURATION", value_parser = crate::config::duration::parse_duration)]
        older_than: Option<std::time::Duration>,
    },
}

/// A single-threaded runtime for the short-lived commands; says why when it cannot start.
pub(crate) fn current_thread_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            tell!("newswatch: cannot start the async runtime: {e}");
            None
        }
    }
}

fn config_path(c: Option<PathBuf>) -> PathBuf {
    c.unwrap_or_else(crate::config::default_path)
}

fn init_logging(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(crate::ops::logging::filter(default))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// `1 item`, `3 items`: a count and its noun (`many` when not one), for the summaries
/// commands print ("1 items read, 1 alerts would be sent" read oddly).
fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The exit of a command whose printed results ended with `written`: `done` when they were
/// written or the reader closed the pipe (`… | head` is the reader's choice, not a failure
/// worth a message, nor the panic `print!` makes of it); 1, with the error, otherwise.
fn after_output(written: std::io::Result<()>, done: ExitCode) -> ExitCode {
    match written {
        Ok(()) => done,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => done,
        Err(e) => {
            tell!("newswatch: cannot write the results: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One line of a command's report on stdout (see `say!`); another write error is told on
/// stderr, and the command's exit is its work's.
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = escape_controls(&line.to_string(), &['\n', '\t']);
    let written = writeln!(std::io::stdout().lock(), "{line}");
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        tell!("newswatch: cannot write the results: {e}");
    }
}

/// One line on stderr (see `tell!`); a write error is ignored.
pub(crate) fn tell_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = line.to_string();
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        escape_controls(&line, &['\n', '\t'])
    );
}

/// JSON with DEL and the C1 controls (U+007F–U+009F), which serde_json writes as they are,
/// escaped as `\u00XX`: the same text for a JSON reader, nothing for a terminal to act on (and
/// nothing left for [`escape_controls`] to write as `\u{…}`, which is no JSON).
pub(crate) fn json_c1_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with every control character but those of `kept` written as `\u{…}`: names, titles
/// and quoted config lines come from files other people may write (an `include`), and an
/// escape sequence in a sink's name cleared the screen of whoever ran `check`.
pub(crate) fn escape_controls(text: &str, kept: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !kept.contains(&c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            once,
            listen,
            log_format,
        } => {
            let path = config_path(config);
            // Loaded once, here: its log level decides the logging set-up, and the daemon runs
            // on it (compiling thousands of watches twice would only delay the start).
            let mut plan = match crate::plan::load(&path) {
                Ok(p) => p,
                Err(errors) => {
                    if std::env::var_os("JOURNAL_STREAM").is_some() {
                        crate::ops::logging::fatal(&errors.to_string());
                    } else {
                        tell!("{errors}");
                    }
                    return ExitCode::FAILURE;
                }
            };
            if let Some(listen) = listen {
                match run::listen_override(&listen, plan.daemon.listen_token.is_some()) {
                    Ok(addr) => {
                        plan.daemon.listen = addr;
                        plan.daemon.listen_setting = "--listen";
                    }
                    Err(e) => {
                        tell!("newswatch: --listen {listen}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            // The daemon logs its work at info; `log_level` in [daemon] applies when RUST_LOG
            // is not set.
            let level = plan.daemon.log_level.as_deref().unwrap_or("info");
            crate::ops::logging::init(log_format, level);
            crate::ops::logging::config_warnings(&plan.warnings);
            // A panic (e.g. inside the feed parser, where it is caught and becomes a per-feed
            // error) is logged like any other error, not printed raw to stderr.
            std::panic::set_hook(Box::new(|info| {
                tracing::error!(panic = %info, "panic");
            }));
            run::run(&path, plan, once)
        }
        Command::Status { config, json } => {
            init_logging("warn");
            status::run(&config_path(config), json)
        }
        Command::Deliveries { command, config } => {
            init_logging("warn");
            match command {
                DeliveriesCommand::Retry { dead } => status::retry(&config_path(config), dead),
                DeliveriesCommand::Purge {
                    dead: _,
                    older_than,
                } => status::purge_dead(&config_path(config), older_than),
            }
        }
        Command::Migrate { config } => {
            init_logging("warn");
            status::migrate(&config_path(config))
        }
        Command::Check { config } => {
            init_logging("warn");
            check::run(&config_path(config))
        }
        Command::SendTest {
            sink,
            config,
            dry_run,
        } => {
            init_logging("warn");
            sendtest::run(&config_path(config), &sink, dry_run)
        }
        Command::Try {
            config,
            json,
            all,
            full_text,
            sources,
        } => {
            init_logging("warn");
            let Some(rt) = current_thread_runtime() else {
                return ExitCode::FAILURE;
            };
            let config = config_path(config);
            rt.block_on(tryout::run(tryout::Args {
                config: &config,
                sources: &sources,
                json,
                all,
                full_text: full_text.as_deref().and_then(FullTextMode::parse),
            }))
        }
        Command::Backtest {
            config,
            watches,
            since,
            json,
        } => {
            init_logging("warn");
            let Some(rt) = current_thread_runtime() else {
                return ExitCode::FAILURE;
            };
            let config = config_path(config);
            rt.block_on(backtest::run(backtest::Args {
                config: &config,
                watches: &watches,
                since,
                json,
            }))
        }
    }
}
