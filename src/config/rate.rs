//! A rate as users write it (`"1/s"`, `"60/min"`, `"5/2s"`, `"off"`): parsed once here for
//! every setting that takes one (a sink's `rate`, `[daemon] page_rate`).
//!
//! Owns [`Rate`] and [`RateError`]; the modules that pace by it own their buckets.

use std::time::Duration;

/// `count` messages per `per`, in bursts of at most `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`rate` = \"{0}\": write a rate like \"1/s\", \"60/min\", \"5/2s\" or \"off\" (at most 1000 per second, over at most 100 years)"
)]
pub struct RateError(pub String);

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }

    /// Parse `N/unit` (`s`, `sec`, `second`, `m`, `min`, `minute`, `h`, `hour`, or any
    /// humantime duration such as `2s`); `None` for `"off"` / `"none"` (no limit).
    pub fn parse(text: &str) -> Result<Option<Rate>, RateError> {
        let t = text.trim();
        if matches!(
            t.to_ascii_lowercase().as_str(),
            "off" | "none" | "unlimited"
        ) {
            return Ok(None);
        }
        let err = || RateError(text.to_string());
        let (n, unit) = t.split_once('/').ok_or_else(err)?;
        let count: u32 = n.trim().parse().map_err(|_| err())?;
        let unit = unit.trim();
        let per = match unit.to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => crate::config::duration::parse_duration(unit).map_err(|_| err())?,
        };
        // A period beyond the longest duration a setting takes: waiting out one put a time
        // past what the clock holds (`1/300000000000y` panicked the sink's worker).
        if count == 0
            || per.is_zero()
            || per > crate::config::validate::MAX_DURATION
            || per.as_secs_f64() / f64::from(count) < 0.001
        {
            return Err(err());
        }
        Ok(Some(Rate { count, per }))
    }

    /// Time between two sends at the sustained rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl Rate {
    /// As a user writes it: `1/s`, `10/min`, `1/3s`.
    pub fn written(&self) -> String {
        match self.per.as_secs() {
            1 if self.per.subsec_nanos() == 0 => format!("{}/s", self.count),
            60 if self.per.subsec_nanos() == 0 => format!("{}/min", self.count),
            3600 if self.per.subsec_nanos() == 0 => format!("{}/h", self.count),
            _ => format!("{}/{}", self.count, humantime::format_duration(self.per)),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rate::parse("1/s").unwrap(),
            Some(Rate::new(1, Duration::from_secs(1)))
        );
        assert_eq!(
            Rate::parse(" 60 / min ").unwrap(),
            Some(Rate::new(60, Duration::from_secs(60)))
        );
        assert_eq!(
            Rate::parse("5/2s").unwrap(),
            Some(Rate::new(5, Duration::from_secs(2)))
        );
        assert_eq!(Rate::parse("off").unwrap(), None);
        for bad in ["", "1", "0/s", "x/s", "1/fortnight", "100000/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    /// Regression: a period of any length was taken (`1/300000000000y`), and waiting out its
    /// one token added it to the clock, which panicked the sink's worker (and, for
    /// `page_rate`, the poll): past the clock's range. Periods stop at 100 years, as every
    /// duration setting does.
    #[test]
    fn a_period_beyond_a_hundred_years_is_an_error_not_a_panic_later() {
        assert!(Rate::parse("1/300000000000y").is_err());
        assert!(Rate::parse("1/101y").is_err());
        assert_eq!(
            Rate::parse("1/100y").unwrap().map(|r| r.count),
            Some(1),
            "100 years is the longest duration a setting takes"
        );
    }
}
