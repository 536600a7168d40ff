//! Gateway execution without HTTP (feature `gateway`): who is asking, which target,
//! whether it may, whether there is room, and the call itself, in one fixed order.
//! Servers bring the protocol (routes, bodies, status codes); this module brings the
//! rules every protocol of a gateway shares, so the Sipp profile and the
//! OpenAI-compatible routes cannot drift apart.

mod pipeline;
mod policy;

pub use pipeline::{GatewayEmbeddingRun, GatewayPipeline, GatewayTextRun};
pub use policy::{
    AdmissionController, AdmissionPermit, Authorizer, GatewayExecutor, GatewayRefusal, GatewayRequestContext,
    TargetResolver,
};
