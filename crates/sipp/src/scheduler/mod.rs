//! Scheduling: who waits, who runs, and what each `decode` call carries.

mod admission;
mod budget;
mod step;

pub(crate) use admission::Admission;
pub(crate) use budget::PrefillBudget;
pub(crate) use step::{decodes, plan_step, Need, Portion};
