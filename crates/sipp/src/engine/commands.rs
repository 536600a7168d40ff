//! What the `Engine` handle and its owner thread share: the commands the handle sends and
//! the state both read (admission, counters). Its own file so the thread's loops import it
//! without importing the handle.

use super::request::Job;
use super::stats::EngineCounters;
use crate::scheduler::Admission;

// One message per request, moved once through the channel: boxing the job would add an
// allocation per request to save stack space nobody holds.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    Submit(Job),
    Shutdown,
}

/// State shared by the handle and the engine thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub id: String,
    pub admission: Admission,
    pub counters: EngineCounters,
}
