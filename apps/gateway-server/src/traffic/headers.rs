//! The OpenAI-style rate-limit headers (`x-ratelimit-{limit,remaining,reset}-{requests,
//! tokens}`), from what an admission left: for each kind, the scope with the least left
//! speaks (what the caller may still send). Durations are written as OpenAI does
//! (`20ms`, `6s`, `1m30s`).

use super::verdict::{Level, Remaining};
use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub fn insert(headers: &mut HeaderMap, remaining: &[Remaining]) {
    let tightest =
        |pick: fn(&Remaining) -> Option<Level>| remaining.iter().filter_map(pick).min_by_key(|l| l.remaining);
    for (kind, level) in [("requests", tightest(|r| r.requests)), ("tokens", tightest(|r| r.tokens))] {
        let Some(l) = level else { continue };
        for (what, value) in
            [("limit", l.limit.to_string()), ("remaining", l.remaining.to_string()), ("reset", duration(l.reset_ms))]
        {
            let name = format!("x-ratelimit-{what}-{kind}");
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(n, v);
            }
        }
    }
}

/// `ms` as OpenAI writes a reset time.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (minutes, rest) = (ms / 60_000, ms % 60_000);
    let secs = if rest % 1000 == 0 {
        format!("{}s", rest / 1000)
    } else {
        let fraction = format!("{}.{:03}", rest / 1000, rest % 1000);
        format!("{}s", fraction.trim_end_matches('0'))
    };
    if minutes > 0 {
        format!("{minutes}m{secs}")
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_openai_s() {
        assert_eq!(duration(20), "20ms");
        assert_eq!(duration(6_000), "6s");
        assert_eq!(duration(1_500), "1.5s");
        assert_eq!(duration(90_000), "1m30s");
        assert_eq!(duration(60_000), "1m0s");
    }

    #[test]
    fn the_tightest_scope_speaks() {
        let l = |limit, remaining| Some(Level { limit, remaining, reset_ms: 1_000 });
        let caller = Remaining { requests: l(60, 50), tokens: l(1_000, 900) };
        let target = Remaining { requests: l(10, 2), tokens: None };
        let mut h = HeaderMap::new();
        insert(&mut h, &[caller, target]);
        assert_eq!(h["x-ratelimit-limit-requests"], "10");
        assert_eq!(h["x-ratelimit-remaining-requests"], "2");
        assert_eq!(h["x-ratelimit-remaining-tokens"], "900");
        assert_eq!(h["x-ratelimit-reset-tokens"], "1s");
    }
}
