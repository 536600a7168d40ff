//! `GatewayPipeline`: the order every gateway request goes through — the target exists
//! (else `not_found`), the caller may use it (else `authorization`), it is loaded (else
//! `unavailable`), there is room (else `overloaded`), then the call. The admission permit
//! travels with the run and is released only when the run is dropped, i.e. after the
//! last streamed event. The context's request id becomes the request's `request_id`
//! (unless the caller set one), so remote targets receive it.

use super::policy::{
    AdmissionController, AdmissionPermit, Authorizer, GatewayExecutor, GatewayRefusal, GatewayRequestContext,
    TargetResolver,
};
use crate::client::{SippEmbeddingRun, SippTextRun};
use crate::types::{EndpointRef, SippEmbedRequest, SippTextRequest};
use std::sync::Arc;

/// A running text request and the admission place it holds.
#[derive(Debug)]
pub struct GatewayTextRun {
    pub run: SippTextRun,
    pub permit: AdmissionPermit,
}

/// A running embed and the admission place it holds.
#[derive(Debug)]
pub struct GatewayEmbeddingRun {
    pub run: SippEmbeddingRun,
    pub permit: AdmissionPermit,
}

#[derive(Clone)]
pub struct GatewayPipeline {
    pub resolver: Arc<dyn TargetResolver>,
    pub authorizer: Arc<dyn Authorizer>,
    pub admission: Arc<dyn AdmissionController>,
    pub executor: Arc<dyn GatewayExecutor>,
}

impl std::fmt::Debug for GatewayPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayPipeline(..)")
    }
}

impl GatewayPipeline {
    /// `target` runs the request; `asked` is the name the caller's permission is checked
    /// for (the same, or the pool `target` is a member of).
    fn enter(
        &self,
        context: &GatewayRequestContext,
        asked: &str,
        target: &str,
    ) -> Result<(EndpointRef, AdmissionPermit), GatewayRefusal> {
        if context.cancellation.is_cancelled() {
            return Err(GatewayRefusal::ShuttingDown);
        }
        if !self.resolver.exists(asked) {
            return Err(GatewayRefusal::UnknownTarget(asked.to_string()));
        }
        self.authorizer.authorize(context, asked)?;
        let endpoint = self.resolver.resolve(target)?;
        let permit = self.admission.admit()?;
        Ok((endpoint, permit))
    }

    /// A query or chat, whichever the request's prompt is.
    pub fn text(
        &self,
        context: &GatewayRequestContext,
        target: &str,
        request: SippTextRequest,
    ) -> Result<GatewayTextRun, GatewayRefusal> {
        self.text_on(context, target, target, request)
    }

    /// [`Self::text`] for a caller who asked for `asked` (a pool, say), run on `target`:
    /// the permission is the one for `asked`, the endpoint `target`'s.
    pub fn text_on(
        &self,
        context: &GatewayRequestContext,
        asked: &str,
        target: &str,
        request: SippTextRequest,
    ) -> Result<GatewayTextRun, GatewayRefusal> {
        let (endpoint, permit) = self.enter(context, asked, target)?;
        let request_id = context.upstream_request_id(request.request_id);
        let run = self.executor.text(&SippTextRequest { endpoint: Some(endpoint), request_id, ..request });
        Ok(GatewayTextRun { run, permit })
    }

    pub fn embed(
        &self,
        context: &GatewayRequestContext,
        target: &str,
        request: SippEmbedRequest,
    ) -> Result<GatewayEmbeddingRun, GatewayRefusal> {
        self.embed_on(context, target, target, request)
    }

    /// [`Self::embed`] as [`Self::text_on`] is to [`Self::text`].
    pub fn embed_on(
        &self,
        context: &GatewayRequestContext,
        asked: &str,
        target: &str,
        request: SippEmbedRequest,
    ) -> Result<GatewayEmbeddingRun, GatewayRefusal> {
        let (endpoint, permit) = self.enter(context, asked, target)?;
        let request_id = context.upstream_request_id(request.request_id);
        let run = self.executor.embed(SippEmbedRequest { endpoint: Some(endpoint), request_id, ..request });
        Ok(GatewayEmbeddingRun { run, permit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EndpointKind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Records the order the pipeline consulted its parts in.
    #[derive(Default)]
    struct Policy {
        steps: Mutex<Vec<&'static str>>,
        loaded: bool,
        allowed: bool,
        room: AtomicUsize,
    }

    impl TargetResolver for Policy {
        fn exists(&self, target: &str) -> bool {
            self.steps.lock().unwrap().push("exists");
            target == "local"
        }
        fn resolve(&self, target: &str) -> Result<EndpointRef, GatewayRefusal> {
            self.steps.lock().unwrap().push("resolve");
            if !self.loaded {
                return Err(GatewayRefusal::Loading(target.into()));
            }
            Ok(EndpointRef { kind: EndpointKind::Local, id: target.into() })
        }
    }

    impl Authorizer for Policy {
        fn authorize(&self, _: &GatewayRequestContext, target: &str) -> Result<(), GatewayRefusal> {
            self.steps.lock().unwrap().push("authorize");
            if self.allowed {
                Ok(())
            } else {
                Err(GatewayRefusal::Forbidden(target.into()))
            }
        }
    }

    impl AdmissionController for Policy {
        fn admit(&self) -> Result<AdmissionPermit, GatewayRefusal> {
            self.steps.lock().unwrap().push("admit");
            let left = self.room.load(Ordering::SeqCst);
            if left == 0 {
                return Err(GatewayRefusal::Overloaded("full".into()));
            }
            self.room.store(left - 1, Ordering::SeqCst);
            Ok(AdmissionPermit::holding(()))
        }
    }

    fn pipeline(policy: Arc<Policy>) -> GatewayPipeline {
        GatewayPipeline {
            resolver: policy.clone(),
            authorizer: policy.clone(),
            admission: policy,
            executor: Arc::new(crate::SippClient::new()),
        }
    }

    fn ctx() -> GatewayRequestContext {
        GatewayRequestContext::new("r1", "app")
    }

    #[test]
    fn the_order_is_fixed_and_each_refusal_has_its_code() {
        // (target, allowed, loaded, free places, refusal code, policy calls in order)
        type Case<'a> = (&'a str, bool, bool, usize, Option<&'a str>, &'a [&'a str]);
        let cases: [Case; 5] = [
            ("elsewhere", true, true, 1, Some("not_found"), &["exists"]),
            ("local", true, false, 1, Some("authorization"), &["exists", "authorize"]),
            ("local", false, true, 1, Some("unavailable"), &["exists", "authorize", "resolve"]),
            ("local", true, true, 0, Some("overloaded"), &["exists", "authorize", "resolve", "admit"]),
            ("local", true, true, 1, None, &["exists", "authorize", "resolve", "admit"]),
        ];
        for (target, loaded, allowed, room, refusal, steps) in cases {
            let policy = Arc::new(Policy { loaded, allowed, room: AtomicUsize::new(room), ..Policy::default() });
            let outcome = pipeline(Arc::clone(&policy)).text(&ctx(), target, SippTextRequest::default());
            assert_eq!(outcome.as_ref().err().map(GatewayRefusal::code), refusal);
            assert_eq!(*policy.steps.lock().unwrap(), steps);
        }
        // A cancelled context (the server is shutting down) is refused before any policy.
        let policy = Arc::new(Policy { loaded: true, allowed: true, room: AtomicUsize::new(1), ..Policy::default() });
        let closing = ctx();
        closing.cancellation.cancel("shutdown");
        let outcome = pipeline(Arc::clone(&policy)).text(&closing, "local", SippTextRequest::default());
        assert_eq!(outcome.err(), Some(GatewayRefusal::ShuttingDown));
        assert!(policy.steps.lock().unwrap().is_empty());
        assert_eq!(GatewayRefusal::ShuttingDown.http_status(), 503);
        assert_eq!(GatewayRefusal::Forbidden("x".into()).http_status(), 403);
        assert_eq!(GatewayRefusal::Loading("x".into()).retry_after_secs(), Some(1));
    }
}
