//! Durations as settings and options write them (`90s`, `5m`, `6h`, `14d`, `2weeks`).
//!
//! Owns [`parse_duration`]: humantime's reading, but for one unit. To humantime a capital `M`
//! is months (`5M` is five months, `5m` five minutes), so a `poll_interval = "5M"` or
//! `--older-than 10M` meant as minutes was taken without a word, and a feed waited months for
//! its next poll. A bare `M` is refused with both readings named; `months` says months.

use std::time::Duration;

/// `text` read as a duration, or why not in words (humantime's, or the `M` hint).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Some(n) = bare_capital_m(t) {
        return Err(format!(
            "`{n}M` would be {n} months; write \"{n}m\" for minutes or \"{n}months\""
        ));
    }
    humantime::parse_duration(t).map_err(|e| e.to_string())
}

/// The number before the first unit that is a capital `M` alone (`5M`, `1h 5M`, `5 M`).
fn bare_capital_m(t: &str) -> Option<&str> {
    let b = t.as_bytes();
    (0..b.len()).find_map(|i| {
        let alone = b[i] == b'M' && !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        if !alone {
            return None;
        }
        let before = t[..i].trim_end();
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        (digits > 0).then(|| &before[before.len() - digits..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `"5M"` read as five months, accepted for a poll interval meant as minutes.
    #[test]
    fn a_capital_m_is_refused_with_both_readings() {
        for (text, n) in [("5M", "5"), (" 1h 30M", "30"), ("10 M", "10")] {
            let e = parse_duration(text).unwrap_err();
            assert!(
                e.contains(&format!("\"{n}m\" for minutes"))
                    && e.contains(&format!("\"{n}months\"")),
                "{text}: {e}"
            );
        }
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(
            parse_duration("2months"),
            humantime::parse_duration("2months").map_err(|e| e.to_string())
        );
        assert_eq!(
            parse_duration("1Mo").is_ok(),
            humantime::parse_duration("1Mo").is_ok()
        );
        assert_eq!(parse_duration(" 90s "), Ok(Duration::from_secs(90)));
        assert!(parse_duration("M").is_err() && parse_duration("").is_err());
    }
}
