//! Scheduling: who waits, who runs, and what each `decode` call carries.

mod admission;
mod step;

pub(crate) use admission::Admission;
pub(crate) use step::{plan_step, Need, Portion};
