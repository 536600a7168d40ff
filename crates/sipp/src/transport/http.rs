//! One remote endpoint's HTTP client: base URL, headers, credential, deadlines and the
//! retry budget. Only requests that provably did not run are retried.

use super::failure::{describe, Fault};
use super::wire::Call;
use crate::error::{Result, SippError};
use crate::types::{RetryPolicy, Secret, StaticHeader, TimeoutPolicy, ValueProvider};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use std::str::FromStr;
use std::time::Duration;
use tokio::time::Instant;

/// How a request carries its credential.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    /// A fixed header (`Authorization: Bearer …`, `x-api-key: …`).
    Static {
        name: HeaderName,
        value: Secret,
        bearer: bool,
    },
    /// A header whose value is asked for before every request.
    Provided {
        name: HeaderName,
        bearer: bool,
        provider: ValueProvider,
    },
}

/// Largest error body read to build an error message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Largest whole (non-streaming) answer read: a bound on what one upstream can make this
/// process hold. 2,048 embedding inputs of 3,072 floats as JSON fit several times over.
pub(crate) const ANSWER_LIMIT: usize = 64 * 1024 * 1024;

/// Longest `Retry-After` taken from a server: a longer one is a server's mistake, and a
/// caller told to wait a day would rather get an error it can act on.
pub(crate) const RETRY_AFTER_CAP_SECS: u64 = 3600;

#[derive(Debug)]
pub(crate) struct HttpTransport {
    /// Endpoint id, for error messages.
    endpoint: String,
    client: reqwest::Client,
    base_url: String,
    headers: HeaderMap,
    auth: Auth,
    pub(crate) timeouts: TimeoutPolicy,
    retry: RetryPolicy,
    /// Values scrubbed from every error message.
    secrets: Vec<Secret>,
    /// Where a request's `request_id` goes upstream (`x-request-id` for gateways).
    correlation: Option<HeaderName>,
    /// Parsed URLs by path: parsing one (with IDNA host mapping) was ~4% of a proxied
    /// request's CPU time, and an endpoint calls a handful of paths.
    urls: std::sync::Mutex<Vec<(String, reqwest::Url)>>,
}

/// Paths an endpoint keeps parsed; more are parsed per call.
const URL_CACHE: usize = 16;

impl HttpTransport {
    pub(crate) fn new(
        endpoint: &str,
        base_url: &str,
        static_headers: &[StaticHeader],
        auth: Auth,
        timeouts: TimeoutPolicy,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let base_url = check_base_url(base_url)?;
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        for h in static_headers {
            let name = header_name(&h.name)?;
            headers.insert(name, header_value(&h.value, &h.name)?);
            secrets.push(h.value.clone());
        }
        // A fixed credential is one more fixed header: built and checked once, here.
        if let Auth::Static { value, name, bearer } = &auth {
            headers.insert(name.clone(), credential_value(value, *bearer, name.as_str())?);
            secrets.push(value.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect())
            // Deadlines are enforced per call (whole request, idle gap) so they surface as
            // typed timeouts; the pool must not hand out connections the server closed.
            .pool_idle_timeout(Duration::from_secs(30))
            // A redirect is answered, never followed: following one sends the request (and
            // on a same-origin hop, the credential) wherever the server points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sipp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SippError::InvalidConfig(format!("HTTP client: {}", describe(&e))))?;
        Ok(Self {
            endpoint: endpoint.to_string(),
            client,
            base_url,
            headers,
            auth,
            timeouts,
            retry,
            secrets,
            correlation: None,
            urls: std::sync::Mutex::default(),
        })
    }

    /// Send each request's `request_id` upstream under `name`.
    #[must_use]
    pub(crate) fn with_correlation_header(mut self, name: HeaderName) -> Self {
        self.correlation = Some(name);
        self
    }

    /// The correlation value for one request, checked before anything is sent (`None`:
    /// the request has no id, or this endpoint sends none).
    pub(crate) fn correlation(&self, request_id: Option<&str>) -> Result<Option<HeaderValue>> {
        let (Some(_), Some(id)) = (&self.correlation, request_id) else { return Ok(None) };
        match HeaderValue::from_str(id) {
            Ok(v) if !id.is_empty() && id.len() <= 256 => Ok(Some(v)),
            _ => Err(SippError::InvalidRequest(
                "request_id must be 1-256 visible ASCII characters (it is sent as an HTTP header)".into(),
            )),
        }
    }

    /// A fixed, non-secret header the API requires, unless the descriptor set its own.
    #[must_use]
    pub(crate) fn with_default_header(mut self, name: &'static str, value: &'static str) -> Self {
        let name = HeaderName::from_static(name);
        if !self.headers.contains_key(&name) {
            self.headers.insert(name, HeaderValue::from_static(value));
        }
        self
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `url(path)` parsed, from the cache when this endpoint called `path` before.
    fn parsed_url(&self, path: &str) -> Result<reqwest::Url> {
        let mut urls = self.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, url)) = urls.iter().find(|(p, _)| p == path) {
            return Ok(url.clone());
        }
        let text = self.url(path);
        let url =
            reqwest::Url::parse(&text).map_err(|e| SippError::InvalidRequest(format!("request URL `{text}`: {e}")))?;
        if urls.len() < URL_CACHE {
            urls.push((path.to_string(), url.clone()));
        }
        Ok(url)
    }

    fn secret_strs(&self) -> Vec<&str> {
        self.secrets.iter().map(Secret::expose).collect()
    }

    /// Attach the endpoint's name and scrub its secrets.
    pub(crate) fn fault(&self, fault: Fault, retry_after_secs: Option<u64>) -> SippError {
        fault.into_error(&self.endpoint, retry_after_secs, &self.secret_strs())
    }

    pub(crate) fn timeout(&self, what: &'static str) -> SippError {
        let (after, setting) = match what {
            "connect" => (self.timeouts.connect(), "timeouts.connect_ms"),
            "stream idle" => (self.timeouts.idle(), "timeouts.idle_ms"),
            _ => (self.timeouts.request(), "timeouts.request_ms"),
        };
        let after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        SippError::Timeout { endpoint: self.endpoint.clone(), what, after_ms, setting }
    }

    fn transport_error(&self, error: &reqwest::Error) -> SippError {
        if error.is_connect() && error.is_timeout() {
            return self.timeout("connect");
        }
        let message = crate::types::scrub(&describe(error), self.secret_strs());
        SippError::Transport { endpoint: self.endpoint.clone(), message }
    }

    /// Stream read failures after the status line.
    pub(crate) fn stream_error(&self, error: &(dyn std::error::Error + 'static)) -> SippError {
        let message = format!("the response broke off: {}", describe(error));
        SippError::Transport {
            endpoint: self.endpoint.clone(),
            message: crate::types::scrub(&message, self.secret_strs()),
        }
    }

    /// POST `body` to `path`; a 2xx response, or the typed error of the final attempt.
    /// Retries (within the budget and the deadline) only connection failures, `503`,
    /// and `429` with `Retry-After`: none of these ran anything.
    pub(crate) async fn post(
        &self,
        call: &Call,
        correlation: Option<&HeaderValue>,
        deadline: Instant,
    ) -> Result<Response> {
        let (path, body, stream) = (&call.path, &call.body, call.stream);
        let bytes = serde_json::to_vec(body).map_err(|e| SippError::InvalidRequest(format!("request body: {e}")))?;
        let bytes = bytes::Bytes::from(bytes);
        let url = self.parsed_url(path)?;
        let mut attempt = 0u32;
        loop {
            let credential = self.credential().await?;
            let mut request = self
                .client
                .post(url.clone())
                .headers(self.headers.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, if stream { "text/event-stream" } else { "application/json" })
                .body(bytes.clone());
            if let Some((name, value)) = credential {
                request = request.header(name, value);
            }
            if let (Some(name), Some(value)) = (&self.correlation, correlation) {
                request = request.header(name, value);
            }
            // A retry that cannot finish before the deadline is not made: the caller gets
            // the answer that was refused, not a timeout it did not cause.
            let fits = |wait: Duration| Instant::now() + wait < deadline;
            let wait = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if response.status().is_redirection() => return Err(self.redirected(&response)),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after_secs(&response);
                    let retryable = status == StatusCode::SERVICE_UNAVAILABLE
                        || (status == StatusCode::TOO_MANY_REQUESTS && retry_after.is_some());
                    let wait = retry_after.map_or_else(|| self.backoff(attempt), Duration::from_secs);
                    if !retryable || attempt >= self.retry.max_retries || !fits(wait) {
                        return Err(self.status_error(response, retry_after, deadline).await);
                    }
                    wait
                }
                Err(e) if e.is_connect() && attempt < self.retry.max_retries && fits(self.backoff(attempt)) => {
                    self.backoff(attempt)
                }
                Err(e) => return Err(self.transport_error(&e)),
            };
            tracing::debug!(endpoint = %self.endpoint, attempt, wait_ms = wait.as_millis() as u64, "retrying a request that did not run");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A 3xx answer as a typed error naming where it pointed (origin only: a path or
    /// query may carry anything).
    fn redirected(&self, response: &Response) -> SippError {
        let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
        let target = location.and_then(|l| response.url().join(l).ok()).map(|u| u.origin().ascii_serialization());
        let message = format!(
            "HTTP {} redirect to {} refused: redirects are not followed (set base_url to the final address)",
            response.status().as_u16(),
            target.as_deref().unwrap_or("an unreadable location")
        );
        self.fault(Fault::protocol(message), None)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry.backoff_ms.unwrap_or(200);
        Duration::from_millis(base.saturating_mul(1u64 << attempt.min(10)))
    }

    async fn credential(&self) -> Result<Option<(HeaderName, HeaderValue)>> {
        // `None` and `Static` are settled in `new`; only a provider is asked per request.
        let Auth::Provided { name, bearer, provider } = &self.auth else { return Ok(None) };
        let value = provider.call().await.map_err(|why| SippError::Remote {
            endpoint: self.endpoint.clone(),
            failure: crate::error::RemoteFailure::Authentication,
            status: None,
            upstream_code: None,
            message: format!("the authentication value provider failed: {why}"),
            retry_after_secs: None,
        })?;
        Ok(Some((name.clone(), credential_value(&value, *bearer, name.as_str())?)))
    }

    async fn status_error(&self, response: Response, retry_after: Option<u64>, deadline: Instant) -> SippError {
        let status = response.status().as_u16();
        let body = tokio::time::timeout_at(deadline, read_limited(response, ERROR_BODY_LIMIT)).await;
        let body = body.unwrap_or_default();
        self.fault(Fault::from_status(status, &body), retry_after)
    }

    /// A whole JSON answer, within the deadline.
    pub(crate) async fn json(&self, response: Response, deadline: Instant) -> Result<serde_json::Value> {
        let body = self.body(response, deadline).await?;
        serde_json::from_slice(&body).map_err(|e| {
            let text = String::from_utf8_lossy(&body);
            self.fault(Fault::protocol(format!("response is not JSON ({e}): {}", super::failure::prefix(&text))), None)
        })
    }

    /// A whole (non-streaming) response body, within the deadline and [`ANSWER_LIMIT`].
    async fn body(&self, response: Response, deadline: Instant) -> Result<Vec<u8>> {
        let too_large = || {
            let mib = ANSWER_LIMIT >> 20;
            self.fault(Fault::protocol(format!("the answer is larger than {mib} MiB; it was not read")), None)
        };
        if response.content_length().is_some_and(|n| n > ANSWER_LIMIT as u64) {
            return Err(too_large());
        }
        let read = async {
            let mut response = response;
            let mut out = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| self.stream_error(&e))? {
                if out.len() + chunk.len() > ANSWER_LIMIT {
                    return Err(too_large());
                }
                out.extend_from_slice(&chunk);
            }
            Ok(out)
        };
        tokio::time::timeout_at(deadline, read).await.unwrap_or_else(|_| Err(self.timeout("request")))
    }
}

async fn read_limited(mut response: Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() >= limit {
            out.truncate(limit);
            break;
        }
    }
    out
}

fn retry_after_secs(response: &Response) -> Option<u64> {
    let secs: u64 = response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(secs.min(RETRY_AFTER_CAP_SECS))
}

fn check_base_url(base_url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(base_url)
        .map_err(|e| SippError::InvalidConfig(format!("base_url `{base_url}` is not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SippError::InvalidConfig(format!("base_url `{base_url}` must be http:// or https://")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(SippError::InvalidConfig(format!("base_url `{base_url}` must not carry a query or fragment")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SippError::InvalidConfig(
            "base_url must not carry credentials; use authentication or api_key".into(),
        ));
    }
    Ok(base_url.trim_end_matches('/').to_string())
}

/// `Bearer <value>` or the bare value, as a sensitive header value.
fn credential_value(value: &Secret, bearer: bool, name: &str) -> Result<HeaderValue> {
    if bearer {
        header_value(&Secret::new(format!("Bearer {}", value.expose())), name)
    } else {
        header_value(value, name)
    }
}

pub(crate) fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::from_str(name)
        .map_err(|_| SippError::InvalidConfig(format!("`{name}` is not a valid HTTP header name")))
}

fn header_value(value: &Secret, name: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value.expose()).map_err(|_| {
        SippError::InvalidConfig(format!("the value of header `{name}` is not a valid HTTP header value"))
    })?;
    // Keeps it out of hyper's and reqwest's Debug output.
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(check_base_url("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(check_base_url("https://h/gw/v1").unwrap(), "https://h/gw/v1");
        for bad in ["127.0.0.1:8080", "ftp://h", "/v1", "http://u:p@h", "http://h/?a=1"] {
            let e = check_base_url(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_config", "{bad}");
        }
    }

    #[test]
    fn secrets_in_headers_stay_out_of_debug() {
        let t = HttpTransport::new(
            "g",
            "http://127.0.0.1:1",
            &[StaticHeader::new("x-tenant-key", "tenant-secret-value")],
            Auth::Static { name: reqwest::header::AUTHORIZATION, value: Secret::new("tok-123456"), bearer: true },
            TimeoutPolicy::default(),
            RetryPolicy::default(),
        )
        .unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("tenant-secret-value") && !shown.contains("tok-123456"), "{shown}");
        let bad = HttpTransport::new(
            "g",
            "http://h",
            &[StaticHeader::new("bad header", "v")],
            Auth::None,
            TimeoutPolicy::default(),
            RetryPolicy::default(),
        );
        assert_eq!(bad.unwrap_err().code(), "invalid_config");
    }
}
