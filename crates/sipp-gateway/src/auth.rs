//! Who is calling. `Authenticator` is the seam; `BearerTokens` is the first-party policy:
//! `Authorization: Bearer <token>` matched against configured tokens in constant time
//! (digests compared, so neither content nor length leaks through timing).

use crate::error::GatewayHttpError;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use sipp::Secret;
use subtle::ConstantTimeEq;

/// The caller an authenticator recognized, as the application's policy names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller(pub String);

/// Decides who sent a request from its headers.
pub trait Authenticator: Send + Sync {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, GatewayHttpError>;
}

/// Configured bearer tokens, each naming a caller.
#[derive(Debug, Clone, Default)]
pub struct BearerTokens {
    tokens: Vec<([u8; 32], Caller)>,
}

impl BearerTokens {
    pub fn new(tokens: impl IntoIterator<Item = (Secret, Caller)>) -> Self {
        Self { tokens: tokens.into_iter().map(|(t, c)| (digest(t.expose().as_bytes()), c)).collect() }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn unauthenticated(message: &str) -> GatewayHttpError {
    GatewayHttpError::new(StatusCode::UNAUTHORIZED, "authentication", message)
}

impl Authenticator for BearerTokens {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, GatewayHttpError> {
        let value = headers.get(AUTHORIZATION).ok_or_else(|| unauthenticated("missing bearer token"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(bearer_credential)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("malformed Authorization header; expected `Bearer <token>`"))?;
        let presented = digest(token.as_bytes());
        // Every configured token is compared, matching or not.
        let mut found = None;
        for (known, caller) in &self.tokens {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(caller);
            }
        }
        found.cloned().ok_or_else(|| unauthenticated("invalid bearer token"))
    }
}

/// The token of `Bearer <token>`; the scheme name is case-insensitive (RFC 9110 11.1)
/// and may be followed by more than one space.
fn bearer_credential(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_tokens_name_their_caller() {
        let t = BearerTokens::new([
            (Secret::new("tok-a-123"), Caller("web".into())),
            (Secret::new("tok-b-456"), Caller("batch".into())),
        ]);
        for scheme in ["Bearer", "bearer", "BEARER", "BeArEr"] {
            let h = headers(Some(&format!("{scheme} tok-b-456")));
            assert_eq!(t.authenticate(&h).unwrap(), Caller("batch".into()), "{scheme}");
        }
        assert_eq!(t.authenticate(&headers(Some("Bearer   tok-a-123"))).unwrap(), Caller("web".into()));
        for (h, says) in [
            (None, "missing bearer token"),
            (Some("Basic dTpw"), "malformed"),
            (Some("Bearer "), "malformed"),
            (Some("Bearertok-a-123"), "malformed"),
            (Some("Bearerx tok-a-123"), "malformed"),
            (Some("Bearer tok-a-12"), "invalid bearer token"),
        ] {
            let e = t.authenticate(&headers(h)).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code.as_str()), (401, "authentication"));
            assert!(e.message.contains(says), "{h:?}: {e}");
        }
        assert!(!format!("{t:?}").contains("tok-a-123"));
    }
}
