//! The JSON log line, written field by field into the line buffer.
//!
//! Same lines as `tracing_subscriber`'s `json()` format (`timestamp`, `level`, `fields`,
//! `target`, then `span` and `spans` inside spans), so anything that reads the log reads
//! them unchanged. That format goes through serde's serializer with a UTF-8 check on
//! every write, allocates the timestamp and every `%`/`?` field, and at c=16 on one
//! pinned core the access line cost 6-9% of the gateway's requests per second
//! (`RUST_LOG=warn` against `info`). This one writes the same bytes straight through.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter. Span fields must be formatted as JSON objects
/// (`fmt_fields(JsonFields::new())`), as `json()` does: they are spliced in as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        // A line forwarded from the `log` crate names the target the `log` call had.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        w.write_str("{\"timestamp\":\"")?;
        timestamp(&mut w, SystemTime::now())?;
        write!(w, "\",\"level\":\"{}\",\"fields\":{{", meta.level())?;
        let mut fields = Fields { w: &mut w, first: true, result: Ok(()) };
        event.record(&mut fields);
        fields.result?;
        w.write_str("},\"target\":")?;
        string(&mut w, meta.target())?;
        let current = event.parent().and_then(|id| ctx.span(id)).or_else(|| ctx.lookup_current());
        if let Some(leaf) = current {
            w.write_str(",\"span\":")?;
            span::<S, N>(&mut w, &leaf)?;
            w.write_str(",\"spans\":[")?;
            for (i, s) in leaf.scope().from_root().enumerate() {
                if i > 0 {
                    w.write_char(',')?;
                }
                span::<S, N>(&mut w, &s)?;
            }
            w.write_char(']')?;
        }
        w.write_str("}\n")
    }
}

/// `{<the span's fields>,"name":"…"}`, the shape `json()` gives a span.
fn span<S, N>(w: &mut Writer<'_>, span: &tracing_subscriber::registry::SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    w.write_char('{')?;
    let extensions = span.extensions();
    let recorded = extensions.get::<FormattedFields<N>>().map_or("", |f| f.fields.as_str());
    match recorded.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        Some("") => {}
        Some(inner) => {
            w.write_str(inner)?;
            w.write_char(',')?;
        }
        // Not a JSON object (the subscriber was built with another field formatter):
        // kept, as a string, rather than making the line invalid JSON.
        None if recorded.is_empty() => {}
        None => {
            w.write_str("\"fields\":")?;
            string(w, recorded)?;
            w.write_char(',')?;
        }
    }
    w.write_str("\"name\":")?;
    string(w, span.metadata().name())?;
    w.write_char('}')
}

/// The event's fields as the members of one JSON object, in the order they were declared.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    /// Write `"name":` and then the value; the first error stops the line.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.w.write_char(',')?;
            }
            string(self.w, field.name())?;
            self.w.write_char(':')?;
            value(self.w)
        })();
    }
}

impl Visit for Fields<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |w| {
            // As serde_json writes it: the shortest round-trip form, and `null` where JSON
            // has no number.
            if value.is_finite() {
                w.write_str(zmij::Buffer::new().format_finite(value))
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    // 128-bit integers take `Visit`'s default, a string of their `Debug` form, as in `json()`.

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| string(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escaped(&mut *w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// A JSON string literal.
fn string(w: &mut impl Write, value: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(&mut *w).write_str(value)?;
    w.write_char('"')
}

/// Writes what it is given with JSON string escapes (the ones serde_json writes: quote,
/// backslash and the control characters; everything else, non-ASCII included, as it is).
struct Escaped<W>(W);

impl<W: Write> Write for Escaped<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            // Escapes are ASCII, so `i` is on a character boundary.
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

/// `2026-12-03T13:37:27.543970Z`: RFC 3339 in UTC to the microsecond, as `json()` writes it.
fn timestamp(w: &mut impl Write, now: SystemTime) -> fmt::Result {
    // A clock before 1970 is written as 1970 rather than failing the line.
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    write!(
        w,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_micros()
    )
}

/// Year, month (1-12) and day (1-31) of a day counted from 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`, for days on or after 1970).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::fmt::MakeWriter;

    /// Every line, kept.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl MakeWriter<'_> for Captured {
        type Writer = Self;

        fn make_writer(&self) -> Self {
            self.clone()
        }
    }

    /// The text one closure logs, through a subscriber built as `sipp-gateway` builds it
    /// (`ours`) or with tracing_subscriber's own JSON format.
    fn logged(ours: bool, log: impl Fn()) -> String {
        let w = Captured::default();
        let builder = tracing_subscriber::fmt().with_writer(w.clone());
        let subscriber: Box<dyn Subscriber + Send + Sync> = if ours {
            Box::new(builder.fmt_fields(JsonFields::new()).event_format(JsonLines).finish())
        } else {
            Box::new(builder.json().finish())
        };
        tracing::subscriber::with_default(subscriber, log);
        w.text()
    }

    fn lines(ours: bool, log: impl Fn()) -> Vec<serde_json::Value> {
        logged(ours, log).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    fn events() {
        let id = "sipp-1\"\\\n\t\u{1}é";
        tracing::info!(
            request_id = %id,
            caller = "bench",
            status = 200u16,
            delta = -3i64,
            big = u128::MAX,
            latency_ms = 0.542_417,
            whole = 1.0,
            huge = 1e300,
            tiny = 1.5e-7,
            not_a_number = f64::NAN,
            ok = true,
            debug = ?Some("x\"y"),
            "request"
        );
        tracing::warn!(error = format!("{}", "line\r\nbreak\u{7f}\u{1f}"), "upstream down");
        let outer = tracing::info_span!("outer", route = "/v1/chat", n = 2);
        let _o = outer.enter();
        let inner = tracing::info_span!("inner");
        let _i = inner.enter();
        tracing::info!(quote = "\"", "inside");
    }

    #[test]
    fn lines_match_tracing_subscribers_json_format() {
        let mut theirs = lines(false, events);
        let mut ours = lines(true, events);
        assert_eq!(ours.len(), 3);
        for (a, b) in ours.iter_mut().zip(theirs.iter_mut()) {
            let (ta, tb) = (a["timestamp"].take(), b["timestamp"].take());
            let (ta, tb) = (ta.as_str().unwrap(), tb.as_str().unwrap());
            assert_eq!(ta.len(), tb.len(), "{ta} vs {tb}");
            assert_eq!(ta[..16], tb[..16], "same minute: {ta} vs {tb}");
        }
        assert_eq!(ours, theirs);
        assert_eq!(ours[0]["fields"]["request_id"], "sipp-1\"\\\n\t\u{1}é");
        assert_eq!(ours[2]["spans"][0]["route"], "/v1/chat");
    }

    #[test]
    fn the_bytes_are_what_json_writes() {
        // Member order, escapes and number forms, byte for byte; only the clock differs.
        let without_clock = |text: String| {
            text.lines()
                .map(|l| {
                    let (head, rest) = l.split_at(l.find(",\"level\"").unwrap());
                    assert!(head.starts_with("{\"timestamp\":\"") && head.len() == 42, "{head}");
                    rest.to_string()
                })
                .collect::<Vec<_>>()
        };
        let ours = without_clock(logged(true, events));
        assert_eq!(ours, without_clock(logged(false, events)));
        assert_eq!(
            ours[0],
            r#","level":"INFO","fields":{"message":"request","request_id":"sipp-1\"\\\n\t\u0001é","caller":"bench","status":200,"delta":-3,"big":"340282366920938463463374607431768211455","latency_ms":0.542417,"whole":1.0,"huge":1e+300,"tiny":1.5e-7,"not_a_number":null,"ok":true,"debug":"Some(\"x\\\"y\")"},"target":"sipp_gateway_server::log_format::tests"}"#
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc_microseconds() {
        let at = |secs, micros| {
            let mut s = String::new();
            timestamp(&mut s, UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)).unwrap();
            s
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(1_796_305_047, 543_970), "2026-12-03T13:37:27.543970Z");
        assert_eq!(at(4_102_444_799, 999_999), "2099-12-31T23:59:59.999999Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000Z");
    }
}
