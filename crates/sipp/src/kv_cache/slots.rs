use llama_cpp_2::token::LlamaToken;

/// What an idle slot still holds in the KV cache.
#[derive(Debug, Clone, Default)]
struct Slot {
    busy: bool,
    /// Tokens at positions 0.. of this slot's KV cells.
    retained: Vec<LlamaToken>,
    context_key: Option<String>,
    /// Logical clock of the last release, for least-recently-used choice.
    released_at: u64,
}

/// The slot given to a new sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acquired {
    pub slot: usize,
    /// Prompt tokens already in the slot's KV; prefill starts here.
    pub reused: usize,
    /// The slot held more than `reused` tokens; cells from `reused` on must be removed.
    pub trim: bool,
    /// What the slot held before (its cells, until trimmed): a snapshot may keep them.
    pub previous: Vec<LlamaToken>,
}

#[derive(Debug)]
pub(crate) struct KvCache {
    slots: Vec<Slot>,
    reuse: bool,
    retain_limit: Option<usize>,
    clock: u64,
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl KvCache {
    pub(crate) fn new(n_slots: usize, reuse: bool, retain_limit: Option<usize>) -> Self {
        Self { slots: vec![Slot::default(); n_slots], reuse, retain_limit, clock: 0 }
    }

    pub(crate) fn has_free(&self) -> bool {
        self.slots.iter().any(|s| !s.busy)
    }

    /// Take the free slot sharing the longest prefix with `prompt` (a matching
    /// `context_key` wins ties), else one next to busy slots, else the least recently
    /// used one.
    ///
    /// Why next to busy slots: with per-sequence KV windows llama.cpp computes a step in
    /// one pass per run of consecutive sequence ids (`split_equal`), so a decode batch
    /// over slots {0, 1, 5} costs two passes over the weights where {0, 1, 2} costs one.
    pub(crate) fn acquire(&mut self, prompt: &[LlamaToken], context_key: Option<&str>) -> Option<Acquired> {
        let busy = |i: Option<usize>| i.and_then(|i| self.slots.get(i)).is_some_and(|s| s.busy);
        let (slot, reused) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.busy)
            .map(|(i, s)| {
                // One prompt token must always be computed to get logits to sample from.
                let shared =
                    if self.reuse { common_prefix(&s.retained, prompt).min(prompt.len().saturating_sub(1)) } else { 0 };
                let key_match = context_key.is_some() && s.context_key.as_deref() == context_key;
                let neighbours = usize::from(busy(i.checked_sub(1))) + usize::from(busy(Some(i + 1)));
                (i, (shared, key_match, neighbours), s.released_at)
            })
            .max_by(|a, b| {
                a.1.cmp(&b.1)
                    // Older release first among equals: keep recent prefixes around.
                    .then(b.2.cmp(&a.2))
                    .then(b.0.cmp(&a.0))
            })
            .map(|(i, (shared, _, _), _)| (i, shared))?;
        let s = &mut self.slots[slot];
        let trim = s.retained.len() > reused;
        s.busy = true;
        let previous = std::mem::take(&mut s.retained);
        Some(Acquired { slot, reused, trim, previous })
    }

    /// The sequence in `slot` ended with `tokens` in its KV. Returns how many leading
    /// tokens stay cached: the engine removes the cells from there on.
    pub(crate) fn release(&mut self, slot: usize, tokens: &[LlamaToken], context_key: Option<String>) -> usize {
        self.clock += 1;
        let keep = if self.reuse { self.retain_limit.map_or(tokens.len(), |n| n.min(tokens.len())) } else { 0 };
        let s = &mut self.slots[slot];
        s.busy = false;
        s.retained = tokens[..keep].to_vec();
        s.context_key = context_key;
        s.released_at = self.clock;
        keep
    }

    /// Cells idle slots keep for prefix reuse.
    pub(crate) fn retained_idle(&self) -> usize {
        self.slots.iter().filter(|s| !s.busy).map(|s| s.retained.len()).sum()
    }

    /// Idle slots that still hold cells, for eviction when the KV pool is full.
    pub(crate) fn evict_idle(&mut self) -> Vec<usize> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| !s.busy && !s.retained.is_empty())
            .map(|(i, s)| {
                s.retained.clear();
                s.context_key = None;
                i
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().copied().map(LlamaToken).collect()
    }

    #[test]
    fn longest_shared_prefix_wins() {
        let mut kv = KvCache::new(3, true, None);
        let prompts = [[1, 2, 9, 9], [1, 2, 3, 4], [7, 7, 7, 7]];
        for (i, p) in prompts.iter().enumerate() {
            assert_eq!(kv.acquire(&toks(p), None).unwrap().slot, i);
        }
        for (i, p) in prompts.iter().enumerate() {
            kv.release(i, &toks(p), None);
        }
        let a = kv.acquire(&toks(&[1, 2, 3, 5, 6]), None).unwrap();
        assert_eq!((a.slot, a.reused, a.trim, a.previous), (1, 3, true, toks(&[1, 2, 3, 4])));
    }

    #[test]
    fn among_equals_a_slot_next_to_busy_ones_keeps_ids_consecutive() {
        let mut kv = KvCache::new(6, false, None);
        let taken: Vec<usize> = (0..3).map(|_| kv.acquire(&toks(&[1]), None).unwrap().slot).collect();
        assert_eq!(taken, [0, 1, 2]);
        kv.release(0, &toks(&[1]), None);
        kv.release(1, &toks(&[1]), None);
        // Busy {2}: slots 1 and 3 touch it (3, never used, is the older), never 0 or 5
        // while a neighbour is free; the busy slots stay one run.
        let next: Vec<usize> = (0..3).map(|_| kv.acquire(&toks(&[1]), None).unwrap().slot).collect();
        assert_eq!(next, [3, 4, 5]);
        assert_eq!(kv.acquire(&toks(&[1]), None).unwrap().slot, 1);
    }

    #[test]
    fn identical_prompt_still_computes_one_token() {
        let mut kv = KvCache::new(1, true, None);
        let p = toks(&[1, 2, 3]);
        let a = kv.acquire(&p, None).unwrap();
        kv.release(a.slot, &toks(&[1, 2, 3, 40, 41]), None);
        let a = kv.acquire(&p, None).unwrap();
        assert_eq!((a.reused, a.trim), (2, true));
    }

    #[test]
    fn no_reuse_mode_keeps_nothing() {
        let mut kv = KvCache::new(1, false, None);
        let p = toks(&[1, 2, 3]);
        let a = kv.acquire(&p, None).unwrap();
        assert_eq!(kv.release(a.slot, &p, None), 0);
        assert_eq!(kv.acquire(&p, None).unwrap().reused, 0);
    }

    #[test]
    fn retain_limit_caps_what_stays() {
        let mut kv = KvCache::new(1, true, Some(2));
        let p = toks(&[1, 2, 3, 4]);
        let a = kv.acquire(&p, None).unwrap();
        assert_eq!(kv.release(a.slot, &p, None), 2);
        assert_eq!(kv.acquire(&p, None).unwrap().reused, 2);
    }

    #[test]
    fn context_key_breaks_ties_and_busy_slots_are_skipped() {
        let mut kv = KvCache::new(3, true, None);
        let a = kv.acquire(&toks(&[5]), None).unwrap();
        let b = kv.acquire(&toks(&[6]), None).unwrap();
        kv.release(b.slot, &toks(&[9, 9]), Some("user-1".into()));
        let c = kv.acquire(&toks(&[1, 2]), Some("user-1")).unwrap();
        assert_eq!(c.slot, b.slot);
        assert_ne!(c.slot, a.slot);
        let d = kv.acquire(&toks(&[1]), None).unwrap();
        assert_eq!(d.slot, 2);
        assert!(kv.acquire(&toks(&[1]), None).is_none());
        assert!(!kv.has_free());
    }

    #[test]
    fn eviction_clears_only_idle_slots() {
        let mut kv = KvCache::new(2, true, None);
        let a = kv.acquire(&toks(&[1, 2]), None).unwrap();
        let b = kv.acquire(&toks(&[3, 4]), None).unwrap();
        kv.release(a.slot, &toks(&[1, 2]), None);
        assert_eq!(kv.evict_idle(), vec![a.slot]);
        assert_eq!(kv.acquire(&toks(&[1, 2, 3]), None).unwrap().reused, 0);
        let _ = b;
    }
}
