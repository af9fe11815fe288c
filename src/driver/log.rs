//! Log lines in wireguard-go's shape: `LEVEL: (IFNAME) YYYY/MM/DD HH:MM:SS message`, with
//! `DEBUG` for everything below error level and `ERROR` for errors, no colours and no Rust
//! field syntax, so tools and people that read wireguard-go's logs read ours (times in UTC).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events for one interface.
pub struct WgFormat {
    /// `(IFNAME) `, written after the level.
    prefix: String,
}

impl WgFormat {
    /// A format for interface `ifname`.
    pub fn new(ifname: &str) -> Self {
        Self {
            prefix: format!("({ifname}) "),
        }
    }
}

/// `YYYY/MM/DD HH:MM:SS` for `secs` seconds since the Unix epoch (proleptic Gregorian, UTC).
pub fn civil_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl<S, N> FormatEvent<S, N> for WgFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = if *event.metadata().level() == Level::ERROR {
            "ERROR"
        } else {
            "DEBUG"
        };
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        write!(writer, "{level}: {}{} ", self.prefix, civil_time(secs))?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::civil_time;

    #[test]
    fn civil_time_matches_known_dates() {
        assert_eq!(civil_time(0), "1970/01/01 00:00:00");
        assert_eq!(civil_time(951_782_400), "2000/02/29 00:00:00");
        assert_eq!(civil_time(1_796_181_496), "2026/12/02 03:18:16");
        assert_eq!(civil_time(4_107_542_399), "2100/02/28 23:59:59");
    }
}
