//! `scheduler.policy = "decode_first"`: while streams are decoding, a prompt being
//! prefilled gets only as many tokens per step as keep that step within
//! [`STEP_STRETCH`] times a decode-only step of the same width. Running streams then
//! keep a steady inter-token latency when a long prompt arrives; the newcomer's prefill
//! takes longer while they run and goes full speed once none do.
//!
//! The share is steered by feedback, not a fixed chunk or a cost model: after each mixed
//! step it is scaled by how far the step's duration was from its target (rounded down),
//! against a smoothed duration of decode-only steps of the same width. A mixed step
//! costs more than its extra tokens suggest (with per-sequence KV windows llama.cpp
//! computes the prompt part in a second pass) and prompt tokens get dearer as the
//! prompt's position grows; feedback follows both, where a fixed chunk is too large on a
//! slow machine and wastes steps on a fast one.

use std::time::Duration;

/// A mixed step may take about this many times a decode-only step.
pub(crate) const STEP_STRETCH: f64 = 2.0;
/// Aim below the stretch: step times scatter, and the limit is meant for the slow ones.
const AIM: f64 = 0.9 * STEP_STRETCH;
/// Prompt tokens offered next to decodes before anything is measured.
const FIRST_SHARE: usize = 4;
/// Weight of the newest measurement in the decode-only average.
const SMOOTHING: f64 = 0.25;

#[derive(Debug, Clone)]
pub(crate) struct PrefillBudget {
    /// Smoothed duration (ms) of decode-only steps, indexed by their number of decodes.
    quiet_ms: Vec<Option<f64>>,
    /// Prompt tokens the next step with decodes may carry.
    share: usize,
}

impl PrefillBudget {
    pub(crate) fn new(max_decodes: usize) -> Self {
        Self { quiet_ms: vec![None; max_decodes + 1], share: FIRST_SHARE }
    }

    /// Decode-only step time for `decodes` decodes: measured, or the nearest width
    /// measured, scaled by width.
    fn quiet(&self, decodes: usize) -> Option<f64> {
        let (width, ms) = self
            .quiet_ms
            .iter()
            .enumerate()
            .filter_map(|(w, ms)| ms.map(|ms| (w, ms)))
            .min_by_key(|(w, _)| w.abs_diff(decodes))?;
        Some(if width == decodes { ms } else { ms * decodes as f64 / width as f64 })
    }

    /// Most prompt tokens the next step may carry next to `decodes` decodes, at most
    /// `room`. Without decodes nothing is protected: the whole room.
    pub(crate) fn allowance(&self, decodes: usize, room: usize) -> usize {
        if decodes == 0 {
            room
        } else {
            self.share.min(room)
        }
    }

    /// A step ran: `decodes` decode tokens and `prompt` prompt tokens took `elapsed`.
    pub(crate) fn observe(&mut self, decodes: usize, prompt: usize, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1e3;
        if decodes == 0 || decodes >= self.quiet_ms.len() || ms <= 0.0 {
            return;
        }
        if prompt == 0 {
            let old = self.quiet_ms[decodes];
            self.quiet_ms[decodes] = Some(old.map_or(ms, |o| o + SMOOTHING * (ms - o)));
        } else if let Some(quiet) = self.quiet(decodes) {
            // Scaled from what this step carried, so a short last chunk does not inflate
            // the share; at least one token, so a prompt always makes progress.
            let scaled = (prompt as f64 * AIM * quiet / ms).floor() as usize;
            self.share = scaled.max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1e3)
    }

    #[test]
    fn without_decodes_the_whole_room() {
        assert_eq!(PrefillBudget::new(8).allowance(0, 512), 512);
    }

    #[test]
    fn starts_small_until_a_mixed_step_is_measured() {
        let mut b = PrefillBudget::new(8);
        assert_eq!(b.allowance(4, 512), FIRST_SHARE);
        b.observe(4, 0, ms(20.0));
        assert_eq!(b.allowance(4, 512), FIRST_SHARE);
        assert_eq!(b.allowance(4, 3), 3);
    }

    /// A step costs a second pass (12 ms) plus 5.5 ms a prompt token next to a 25 ms
    /// decode-only step (measured on a 2-core VM): the share settles where a step stays
    /// within the aim.
    #[test]
    fn settles_within_the_stretch_of_a_quiet_step() {
        let mut b = PrefillBudget::new(8);
        b.observe(4, 0, ms(25.0));
        let step = |k: usize| 25.0 + 12.0 + 5.5 * k as f64;
        let mut k = b.allowance(4, 512);
        for _ in 0..20 {
            b.observe(4, k, ms(step(k)));
            k = b.allowance(4, 512);
        }
        // Two tokens (48 ms) would pass twice the quiet step only narrowly: one.
        assert_eq!(k, 1);
        assert!(step(k) <= AIM * 25.0);
    }

    #[test]
    fn grows_fast_where_prompt_tokens_are_cheap() {
        let mut b = PrefillBudget::new(8);
        b.observe(4, 0, ms(10.0));
        let mut k = b.allowance(4, 512);
        for _ in 0..20 {
            b.observe(4, k, ms(10.0 + 0.02 * k as f64));
            k = b.allowance(4, 512);
        }
        // 10 ms + 0.02 ms a token reaches the aim (18 ms) at 400 tokens.
        assert!((390..=400).contains(&k), "{k}");
    }

    #[test]
    fn always_lets_a_prompt_progress() {
        let mut b = PrefillBudget::new(8);
        b.observe(2, 0, ms(10.0));
        b.observe(2, 1, ms(500.0));
        assert_eq!(b.allowance(2, 512), 1);
    }

    #[test]
    fn unmeasured_widths_scale_from_the_nearest() {
        let mut b = PrefillBudget::new(8);
        b.observe(2, 0, ms(10.0));
        assert_eq!(b.quiet(4), Some(20.0));
        assert_eq!(b.quiet(2), Some(10.0));
        assert_eq!(PrefillBudget::new(8).quiet(2), None);
    }
}
