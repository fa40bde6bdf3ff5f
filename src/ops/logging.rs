//! Log output: journald-friendly under systemd, plain text in a terminal, JSON on request.
//!
//! Owns [`LogFormat`], [`init`] and [`config_warnings`]. Under systemd (`JOURNAL_STREAM` set) lines carry no
//! timestamp (the journal adds its own) and start with a syslog priority prefix (`<3>` error,
//! `<4>` warning, `<6>` info, `<7>` debug) so `journalctl -p warning` works. Filters follow
//! `RUST_LOG` syntax; `RUST_LOG` wins over `[daemon] log_level`.

use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Journald style under systemd, plain text otherwise.
    Auto,
    /// Human-readable lines with timestamps.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
    /// Syslog priority prefixes, no timestamps (what `auto` picks under systemd).
    Journald,
}

/// Formats events as `<N>level target: message fields`.
struct JournalFormat;

fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        write!(
            writer,
            "<{}>{} {}: ",
            priority(meta.level()),
            meta.level(),
            meta.target()
        )?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{}{{{}}}: ", span.name(), fields)?;
                }
            }
        }
        // The journal takes each line of stderr as an entry of its own, and a line without
        // the prefix at the unit's default priority: a field holding a newline (a panic's
        // "panicked at …:\n<message>", an error chain) split one event in two, its second half
        // at info, out of `journalctl -p warning`. Newlines are written escaped instead.
        let mut fields = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut fields), event)?;
        writeln!(writer, "{}", one_line(&fields))
    }
}

/// `text` with line breaks escaped (`\n`, `\r`), so it is one journal entry.
fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\n', '\r']) {
        return text.into();
    }
    text.replace('\n', "\\n").replace('\r', "\\r").into()
}

/// The lines of a fatal error of the daemon, as [`fatal`] writes them: under systemd
/// (`journald`) each line carries the error priority, `<3>`, so the reason a unit failed shows
/// in `journalctl -p warning` (before, it went out at the journal's default, info).
pub fn fatal_lines(message: &str, journald: bool) -> String {
    let prefix = if journald { "<3>" } else { "" };
    message
        .lines()
        .map(|l| format!("{prefix}newswatch: {l}\n"))
        .collect()
}

/// Report a fatal error of `run` on stderr (see [`fatal_lines`]).
pub fn fatal(message: &str) {
    use std::io::Write;
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let _ = std::io::stderr().write_all(fatal_lines(message, journald).as_bytes());
}

/// The log filter: `RUST_LOG` when it is set, else `default`, else `info`. A `RUST_LOG` that
/// is no filter is named on stderr (it was ignored in silence, and the operator wondered why
/// `RUST_LOG=newswatch=debug,,` showed nothing more).
pub fn filter(default: &str) -> tracing_subscriber::EnvFilter {
    let fallback = || {
        tracing_subscriber::EnvFilter::try_new(default)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let Some(set) = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return fallback();
    };
    let parsed = match silent_word(&set) {
        Some(word) => Err(format!(
            "`{word}` is the name of a log target, which turns every other one off, errors \
             included; a level is one of trace, debug, info, warn, error"
        )),
        None => tracing_subscriber::EnvFilter::try_new(&set).map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(f) => f,
        Err(e) => {
            use std::io::Write;
            let journald = std::env::var_os("JOURNAL_STREAM").is_some();
            let _ = writeln!(
                std::io::stderr(),
                "{}newswatch: RUST_LOG={set:?} is not a log filter ({e}); logging at {default:?}",
                if journald { "<4>" } else { "" }
            );
            fallback()
        }
    }
}

/// Whether a filter directive is a level, as the filter reads one: its names in any case, and
/// the numbers 0 to 5 (any other bare word names a target).
pub fn is_level(directive: &str) -> bool {
    directive
        .parse::<tracing::level_filters::LevelFilter>()
        .is_ok()
}

/// The bare word of a filter that turns every line of ours off (`RUST_LOG=verbose`: a word that
/// is no level names a target, and a filter of targets only shows those): one that is no level
/// and names no target of ours, in a filter with no level and no target of ours; `None` for
/// any other filter. (`log_level` refuses bare words outright; `RUST_LOG`, which wins over it,
/// bypassed that and silenced the daemon.)
fn silent_word(filter: &str) -> Option<&str> {
    let directives: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let ours = |d: &str| d.starts_with("newswatch");
    if directives.iter().any(|d| ours(d) || is_level(d)) {
        return None;
    }
    directives.into_iter().find(|d| !d.contains(['=', '[']))
}

/// Log the configuration's warnings (settings that do less than written), one event each,
/// at start and after a reload.
pub fn config_warnings(warnings: &[crate::config::ConfigError]) {
    for w in warnings {
        tracing::warn!(warning = %w, "configuration: a setting does less than written");
    }
}

/// Install the global subscriber. `default` applies when `RUST_LOG` is unset.
pub fn init(format: LogFormat, default: &str) {
    let filter = filter(default);
    let format = match format {
        LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        f => f,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Journald => builder
            .with_ansi(false)
            .event_format(JournalFormat)
            .fmt_fields(format::DefaultFields::new())
            .try_init(),
        LogFormat::Text | LogFormat::Auto => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// What tests read of the log: a buffer the events of a test are written to.
#[cfg(test)]
pub mod captured {
    use std::sync::{Arc, Mutex};

    /// The bytes written so far, shared with the subscriber's writer.
    #[derive(Clone, Default)]
    pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for LogBuffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl LogBuffer {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// A plain-text subscriber (every level, no colours) writing to a new buffer.
    pub fn subscriber() -> (LogBuffer, impl tracing::Subscriber + Send + Sync) {
        // While one dispatcher is registered, tracing-core works out a callsite's interest
        // from the dispatcher of the thread that reaches it first: one first reached by
        // another test's thread (no subscriber) was never logged to this one. A second
        // dispatcher, kept for good, makes it ask every registered one.
        static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let buffer = LogBuffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        (buffer, subscriber)
    }
}

#[cfg(test)]
mod tests {
    use super::captured::LogBuffer;
    use super::{JournalFormat, fatal_lines};

    /// Regression: under systemd the panic hook's event (`panicked at src/…:\n<message>`)
    /// reached the journal as two entries, the message at the unit's default priority (info),
    /// so `journalctl -p err` showed where the daemon panicked but not why. An event is one
    /// line, its line breaks escaped, at its own priority.
    #[test]
    fn an_event_with_a_line_break_is_one_journal_line() {
        let buffer = LogBuffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .event_format(JournalFormat)
            .fmt_fields(tracing_subscriber::fmt::format::DefaultFields::new())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(panic = %"panicked at src/x.rs:1:2:\nindex out of range", "panic");
            tracing::warn!(feed = "wire", "plain\r\nwarning");
        });
        assert_eq!(
            buffer.text(),
            "<3>ERROR newswatch::ops::logging::tests: panic \
             panic=panicked at src/x.rs:1:2:\\nindex out of range\n\
             <4>WARN newswatch::ops::logging::tests: plain\\r\\nwarning feed=\"wire\"\n"
        );
    }

    /// Regression: the daemon's fatal errors (state file locked, port in use, a missing model)
    /// went to the journal at info priority: `journalctl -p warning` showed the unit failing
    /// but never why. Every line of a many-line error carries the priority.
    #[test]
    fn fatal_errors_carry_the_error_priority_under_journald() {
        assert_eq!(
            fatal_lines("state locked\nsecond line", true),
            "<3>newswatch: state locked\n<3>newswatch: second line\n"
        );
        assert_eq!(
            fatal_lines("state locked", false),
            "newswatch: state locked\n"
        );
    }
}
