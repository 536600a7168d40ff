//! Host-RAM copies of sequence KV state (`cache.mode = "snapshot"`). When a slot is about
//! to be reused for a prompt that does not share its prefix, its state is copied out
//! first; a later request whose prompt starts with those tokens gets the state restored
//! into whatever slot it takes, instead of prefilling again. This is what keeps a long
//! shared system prompt warm after other traffic has used every slot.
//!
//! Entries are kept least-recently-used within `max_snapshot_entries` and
//! `max_snapshot_bytes`; an entry whose tokens are a prefix of a newer one's is dropped
//! (restoring the longer state and cutting it gives the same cells).

use llama_cpp_2::context::session::SeqState;
use llama_cpp_2::token::LlamaToken;

/// Shorter prefixes are cheaper to prefill again than to copy around.
pub(crate) const MIN_SNAPSHOT_TOKENS: usize = 32;

/// The size of a kept state (the engine's is llama.cpp's `SeqState`).
pub(crate) trait StateBytes {
    fn byte_len(&self) -> usize;
}

impl StateBytes for SeqState {
    fn byte_len(&self) -> usize {
        SeqState::byte_len(self)
    }
}

#[derive(Debug)]
struct Entry<S> {
    tokens: Vec<LlamaToken>,
    state: S,
    used_at: u64,
}

/// What the store did so far, for the endpoint's stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SnapshotCounters {
    pub taken: u64,
    pub restores: u64,
    pub restored_tokens: u64,
    pub misses: u64,
    pub evictions: u64,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug)]
pub(crate) struct SnapshotStore<S> {
    entries: Vec<Entry<S>>,
    max_entries: usize,
    max_bytes: u64,
    clock: u64,
    counters: SnapshotCounters,
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl<S: StateBytes> SnapshotStore<S> {
    pub(crate) fn new(max_entries: usize, max_bytes: u64) -> Self {
        Self { entries: Vec::new(), max_entries, max_bytes, clock: 0, counters: SnapshotCounters::default() }
    }

    pub(crate) fn counters(&self) -> SnapshotCounters {
        SnapshotCounters {
            entries: self.entries.len() as u64,
            bytes: self.entries.iter().map(|e| e.state.byte_len() as u64).sum(),
            ..self.counters
        }
    }

    /// Whether the cells of `tokens` are worth keeping: long enough, and not already
    /// covered by an entry they are a prefix of.
    pub(crate) fn wants(&self, tokens: &[LlamaToken]) -> bool {
        tokens.len() >= MIN_SNAPSHOT_TOKENS && !self.entries.iter().any(|e| e.tokens.starts_with(tokens))
    }

    /// Whether a slot holding `previous` is worth copying out before a prompt that keeps
    /// only its first `kept` tokens: enough would be lost (a slot that keeps most of its
    /// prefix stays the warm copy, and the copy would only cost the new request time).
    pub(crate) fn worth_taking(&self, previous: &[LlamaToken], kept: usize) -> bool {
        previous.len() >= kept + MIN_SNAPSHOT_TOKENS && self.wants(previous)
    }

    /// Keep `state`, the cells of `tokens`, evicting least recently used entries to fit.
    /// A state larger than the whole byte budget is not kept (false).
    pub(crate) fn insert(&mut self, tokens: Vec<LlamaToken>, state: S) -> bool {
        let size = state.byte_len() as u64;
        if size > self.max_bytes || self.max_entries == 0 || !self.wants(&tokens) {
            return false;
        }
        // Entries this one extends are redundant now.
        self.entries.retain(|e| !tokens.starts_with(&e.tokens));
        self.clock += 1;
        self.entries.push(Entry { tokens, state, used_at: self.clock });
        self.counters.taken += 1;
        while self.entries.len() > self.max_entries || self.total_bytes() > self.max_bytes {
            let oldest = self.entries.iter().enumerate().min_by_key(|(_, e)| e.used_at).map(|(i, _)| i);
            let Some(i) = oldest else { break };
            self.entries.remove(i);
            self.counters.evictions += 1;
        }
        true
    }

    fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.state.byte_len() as u64).sum()
    }

    /// The entry sharing the longest prefix with `prompt`, if that beats the `live`
    /// tokens a slot already has; returns its state, how many of its tokens to keep,
    /// and whether it holds more than that (cells to cut after restoring). One prompt
    /// token is always left to compute, for logits to sample from.
    pub(crate) fn best(&mut self, prompt: &[LlamaToken], live: usize) -> Option<(&S, usize, bool)> {
        let limit = prompt.len().saturating_sub(1);
        let found = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt).min(limit)))
            .filter(|(_, shared)| *shared > live && *shared >= MIN_SNAPSHOT_TOKENS)
            .max_by_key(|(i, shared)| (*shared, std::cmp::Reverse(*i)));
        let Some((i, shared)) = found else {
            // A miss: a long prompt that neither a live slot nor a snapshot could serve.
            if prompt.len() > MIN_SNAPSHOT_TOKENS && live < MIN_SNAPSHOT_TOKENS {
                self.counters.misses += 1;
            }
            return None;
        };
        self.clock += 1;
        let e = &mut self.entries[i];
        e.used_at = self.clock;
        self.counters.restores += 1;
        self.counters.restored_tokens += shared as u64;
        Some((&e.state, shared, e.tokens.len() > shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(usize);
    impl StateBytes for Fake {
        fn byte_len(&self) -> usize {
            self.0
        }
    }

    fn toks(n: usize, salt: i32) -> Vec<LlamaToken> {
        (0..n).map(|i| LlamaToken(salt * 1000 + i as i32)).collect()
    }

    #[test]
    fn longest_prefix_wins_and_must_beat_the_live_slot() {
        let mut s = SnapshotStore::new(8, 1 << 20);
        s.insert(toks(40, 1), Fake(10));
        s.insert(toks(100, 2), Fake(10));
        let mut prompt = toks(80, 2);
        prompt.push(LlamaToken(7));
        let (_, shared, cut) = s.best(&prompt, 0).unwrap();
        assert_eq!((shared, cut), (80, true));
        assert!(s.best(&prompt, 80).is_none(), "the live slot already has as much");
        assert!(s.best(&toks(20, 2), 0).is_none(), "too short to be worth it");
        assert!(s.best(&toks(60, 9), 0).is_none(), "nothing shared: a miss");
        let c = s.counters();
        assert_eq!((c.restores, c.restored_tokens, c.misses, c.entries, c.bytes), (1, 80, 1, 2, 20));
    }

    #[test]
    fn one_prompt_token_is_left_to_compute() {
        let mut s = SnapshotStore::new(8, 1 << 20);
        s.insert(toks(50, 3), Fake(1));
        assert_eq!(s.best(&toks(50, 3), 0).map(|(_, n, cut)| (n, cut)), Some((49, true)));
    }

    #[test]
    fn lru_respects_entry_and_byte_limits() {
        let mut s = SnapshotStore::new(2, 100);
        s.insert(toks(40, 1), Fake(30));
        s.insert(toks(40, 2), Fake(30));
        // Touch 1: 2 becomes the least recently used.
        assert!(s.best(&toks(41, 1), 0).is_some());
        s.insert(toks(40, 3), Fake(30));
        assert!(s.best(&toks(41, 2), 0).is_none(), "evicted by the entry limit");
        assert!(s.best(&toks(41, 1), 0).is_some() && s.best(&toks(41, 3), 0).is_some());
        // 60 + 50 > 100: the least recently used goes, whatever the entry count.
        s.insert(toks(40, 4), Fake(50));
        let c = s.counters();
        assert_eq!((c.entries, c.bytes, c.evictions), (2, 80, 2));
        assert!(s.best(&toks(41, 1), 0).is_none());
        s.insert(toks(40, 5), Fake(101));
        assert_eq!(s.counters().entries, 2, "larger than the whole budget: not kept");
    }

    #[test]
    fn prefixes_of_one_another_are_kept_once() {
        let mut s = SnapshotStore::new(8, 1 << 20);
        s.insert(toks(40, 1), Fake(1));
        s.insert(toks(60, 1), Fake(1));
        assert_eq!(s.counters().entries, 1, "the longer state covers the shorter");
        assert!(!s.wants(&toks(50, 1)), "covered already");
        assert!(s.worth_taking(&toks(80, 2), 40) && !s.worth_taking(&toks(80, 2), 60), "only if enough is lost");
        s.insert(toks(50, 1), Fake(1));
        assert_eq!(s.counters().entries, 1);
    }
}
