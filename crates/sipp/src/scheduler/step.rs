//! Packs one `decode` call: every running sequence's next token first (decode latency
//! is what users feel), then prompt chunks of sequences still prefilling, oldest first,
//! until `n_batch` or the step's prompt allowance is used up.

/// What one running sequence needs from the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Feed back the token sampled last step.
    Decode,
    /// This many prompt tokens are still to be computed.
    Prefill(usize),
}

/// The share of the batch given to sequence `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Portion {
    pub index: usize,
    pub tokens: usize,
}

/// The number of sequences that decode in the next step, at most `n_batch`.
pub(crate) fn decodes(needs: &[Need], n_batch: usize) -> usize {
    needs.iter().filter(|n| **n == Need::Decode).count().min(n_batch)
}

/// `needs` is in admission order; `chunk` caps one sequence's prefill per step (0: none);
/// `prompt_allowance` caps all prompt tokens of the step.
pub(crate) fn plan_step(needs: &[Need], n_batch: usize, chunk: usize, prompt_allowance: usize) -> Vec<Portion> {
    let mut room = n_batch;
    let mut out = Vec::with_capacity(needs.len());
    for (index, need) in needs.iter().enumerate() {
        if *need == Need::Decode && room > 0 {
            out.push(Portion { index, tokens: 1 });
            room -= 1;
        }
    }
    room = room.min(prompt_allowance);
    for (index, need) in needs.iter().enumerate() {
        if let Need::Prefill(remaining) = *need {
            let cap = if chunk == 0 { room } else { chunk.min(room) };
            let tokens = remaining.min(cap);
            if tokens == 0 {
                break;
            }
            out.push(Portion { index, tokens });
            room -= tokens;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_go_first_then_prefill_fills_the_rest() {
        let needs = [Need::Prefill(700), Need::Decode, Need::Decode];
        let plan = plan_step(&needs, 512, 0, usize::MAX);
        assert_eq!(
            plan,
            vec![Portion { index: 1, tokens: 1 }, Portion { index: 2, tokens: 1 }, Portion { index: 0, tokens: 510 },]
        );
    }

    #[test]
    fn chunk_size_shares_prefill_between_sequences() {
        let needs = [Need::Prefill(100), Need::Prefill(100), Need::Decode];
        let plan = plan_step(&needs, 512, 64, usize::MAX);
        assert_eq!(
            plan,
            vec![Portion { index: 2, tokens: 1 }, Portion { index: 0, tokens: 64 }, Portion { index: 1, tokens: 64 },]
        );
    }

    #[test]
    fn prompt_allowance_caps_all_prefill_of_a_step() {
        let needs = [Need::Decode, Need::Prefill(100), Need::Prefill(100), Need::Decode];
        let plan = plan_step(&needs, 512, 0, 6);
        assert_eq!(
            plan,
            vec![Portion { index: 0, tokens: 1 }, Portion { index: 3, tokens: 1 }, Portion { index: 1, tokens: 6 },]
        );
        assert_eq!(decodes(&needs, 512), 2);
        assert_eq!(decodes(&needs, 1), 1);
    }

    #[test]
    fn never_exceeds_the_batch() {
        let needs = vec![Need::Decode; 10];
        assert_eq!(plan_step(&needs, 4, 0, usize::MAX).len(), 4);
        let needs = [Need::Prefill(3), Need::Prefill(3)];
        let total: usize = plan_step(&needs, 4, 0, usize::MAX).iter().map(|p| p.tokens).sum();
        assert_eq!(total, 4);
    }
}
