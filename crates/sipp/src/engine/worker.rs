//! The text engine loop, run on the endpoint's owner thread. Each iteration admits
//! waiting requests into free slots, packs one `decode` call with every running
//! sequence's next token plus prompt chunks, samples each sequence with its own
//! chain, and streams the results. Requests join and leave between steps.

use super::commands::{Command, Shared};
use super::plan::EnginePlan;
use super::request::{Job, TextJob};
use super::sampler;
use super::sequence::{Sequence, Step};
use crate::error::SippError;
use crate::kv_cache::{Acquired, KvCache, SnapshotDir, SnapshotStore};
use crate::scheduler::{decodes, plan_step, Portion, PrefillBudget};
use crate::types::{BackendProfile, FinishReason, SchedulerPolicy, SippTextResponse, TextEvent, Usage};
use llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::DecodeError;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

pub(crate) struct TextWorker<'a> {
    ctx: LlamaContext<'a>,
    model: &'a LlamaModel,
    plan: &'a EnginePlan,
    shared: &'a Shared,
    waiting: VecDeque<TextJob>,
    running: Vec<Sequence>,
    kv: KvCache,
    /// `cache.mode = snapshot`: host copies of displaced slot states.
    snapshots: Option<SnapshotStore<SeqState>>,
    /// `cache.snapshot_dir`: the same snapshots on disk.
    disk: Option<SnapshotDir>,
    /// `scheduler.policy = decode_first`: the prompt share of steps with decodes.
    budget: Option<PrefillBudget>,
    batch: LlamaBatch<'static>,
}

/// Write the state of `seq_id` (the cells of `tokens`) to the snapshot directory. A
/// failure costs the persisted copy only, never the request.
fn persist(ctx: &LlamaContext<'_>, disk: &SnapshotDir, seq_id: i32, tokens: &[LlamaToken]) {
    let ids: Vec<i32> = tokens.iter().map(|t| t.0).collect();
    let (staged, name) = disk.staging(&ids);
    let outcome = match ctx.state_seq_save_file(&staged, seq_id, tokens) {
        Ok(_) => disk.commit(&staged, &name, tokens.len()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&staged);
        tracing::warn!(error = %e, "could not persist a KV snapshot");
    }
}

impl<'a> TextWorker<'a> {
    pub(crate) fn new(
        ctx: LlamaContext<'a>,
        model: &'a LlamaModel,
        plan: &'a EnginePlan,
        shared: &'a Shared,
        disk: Option<SnapshotDir>,
    ) -> Self {
        let reuse = plan.reuse != crate::types::KvReuseMode::None;
        let mut worker = Self {
            ctx,
            model,
            plan,
            shared,
            waiting: VecDeque::new(),
            running: Vec::new(),
            kv: KvCache::new(plan.n_seq_max as usize, reuse, plan.retained_prefix_tokens.map(|n| n as usize)),
            snapshots: plan.snapshots.map(|(entries, bytes)| SnapshotStore::new(entries, bytes)),
            disk,
            budget: (plan.policy == SchedulerPolicy::DecodeFirst).then(|| PrefillBudget::new(plan.n_seq_max as usize)),
            batch: LlamaBatch::new(plan.n_batch as usize, 1),
        };
        worker.load_persisted();
        worker.publish_kv_cells();
        worker
    }

    /// Snapshots a previous process left in `cache.snapshot_dir`: each checked file is
    /// loaded through a free sequence into host RAM (oldest first, so the newest end up
    /// most recently used). Files that fail llama.cpp's own checks are skipped.
    fn load_persisted(&mut self) {
        let (Some(disk), Some(store)) = (&self.disk, &mut self.snapshots) else { return };
        let (files, _skipped) = disk.loadable();
        for p in files.into_iter().rev() {
            match self.ctx.state_seq_load_file(&p.kv_path, 0, self.plan.n_ctx_seq as usize) {
                Ok((tokens, _)) if tokens.len() == p.tokens => {
                    if let Ok(state) = self.ctx.state_seq_get(0, LlamaStateSeqFlags::empty()) {
                        store.insert(tokens, state);
                    }
                }
                Ok(_) | Err(_) => {
                    tracing::warn!(file = %p.kv_path.display(), "KV snapshot refused by llama.cpp; skipped");
                }
            }
            let _ = self.ctx.kv_cache_seq_rm(0, None, None);
        }
        self.shared.counters.snapshots(store.counters());
    }

    /// Runs until shutdown or until every handle to the engine is gone.
    pub(crate) fn run(&mut self, commands: &Receiver<Command>) {
        loop {
            let idle = self.running.is_empty() && self.waiting.is_empty();
            if idle {
                match commands.recv() {
                    Ok(cmd) => {
                        if !self.take(cmd) {
                            return self.shutdown();
                        }
                    }
                    Err(_) => return self.shutdown(),
                }
            }
            loop {
                match commands.try_recv() {
                    Ok(cmd) => {
                        if !self.take(cmd) {
                            return self.shutdown();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.shutdown(),
                }
            }
            self.drop_abandoned();
            self.admit();
            if !self.running.is_empty() {
                self.step();
            }
        }
    }

    /// Queue a job; false on shutdown.
    fn take(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Submit(Job::Text(job)) => self.waiting.push_back(job),
            Command::Submit(Job::Embed(job)) => {
                self.shared.admission.finished(false);
                let _ = job.reply.send(Err(SippError::UnsupportedOperation {
                    endpoint: self.shared.id.clone(),
                    operation: "embed".into(),
                    reason: "the endpoint was loaded for text generation".into(),
                }));
            }
            Command::Shutdown => return false,
        }
        true
    }

    fn shutdown(&mut self) {
        let closed = || SippError::EndpointClosed(self.shared.id.clone());
        for job in self.waiting.drain(..) {
            self.shared.admission.finished(false);
            job.fail(closed());
        }
        for seq in self.running.drain(..) {
            self.shared.admission.finished(true);
            seq.job.fail(closed());
        }
    }

    /// Cancelled or dropped requests leave: waiting ones at once, running ones with
    /// their slot freed and a `cancelled` response.
    fn drop_abandoned(&mut self) {
        let shared = self.shared;
        self.waiting.retain(|job| {
            if !job.abandoned() {
                return true;
            }
            shared.admission.finished(false);
            shared.counters.cancelled();
            let _ = job.events.send(TextEvent::Done(SippTextResponse {
                text: String::new(),
                finish_reason: FinishReason::Cancelled,
                usage: Some(Usage::new(job.prompt.len(), 0)),
                local_stats: None,
            }));
            false
        });
        let mut i = 0;
        while i < self.running.len() {
            if self.running[i].job.abandoned() {
                let seq = self.running.remove(i);
                self.shared.counters.cancelled();
                self.finish(seq, FinishReason::Cancelled);
            } else {
                i += 1;
            }
        }
    }

    /// Cells a request may grow to: its prompt plus what it may generate, within its
    /// window. In a shared pool that much is set aside before it starts, so a running
    /// request never finds the pool full.
    fn reservation(&self, job: &TextJob) -> usize {
        let window = self.plan.n_ctx_seq as usize;
        let generated = job.params.max_tokens.map_or(window, |m| m as usize);
        (job.prompt.len() + generated).min(window)
    }

    /// Does the request at the head of the queue fit the shared pool now? Idle slots'
    /// retained prefixes are evicted to make room; running requests' reservations are not.
    fn pool_has_room(&mut self, job: &TextJob) -> bool {
        if !self.plan.kv_unified {
            return true;
        }
        let pool = self.plan.kv_cells as usize;
        let reserved: usize = self.running.iter().map(|s| self.reservation(&s.job)).sum();
        let need = self.reservation(job);
        if reserved + need > pool {
            return false;
        }
        if reserved + need + self.kv.retained_idle() > pool {
            for slot in self.kv.evict_idle() {
                let _ = self.ctx.kv_cache_seq_rm(i32::try_from(slot).unwrap_or(i32::MAX), None, None);
            }
        }
        true
    }

    fn admit(&mut self) {
        while self.kv.has_free() {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            // First come, first served: a request that must wait for KV space holds the
            // queue rather than being overtaken forever by smaller ones.
            if !self.pool_has_room(&job) {
                self.waiting.push_front(job);
                break;
            }
            let sampling = sampler::merge(&self.plan.sampling, &job.params.sampling);
            let chain = match sampler::build(self.model, &sampling, job.params.grammar.as_deref()) {
                Ok(chain) => chain,
                Err(e) => {
                    self.shared.admission.finished(false);
                    self.shared.counters.failed();
                    job.fail(e);
                    continue;
                }
            };
            let Some(mut got) = self.kv.acquire(&job.prompt, job.params.context_key.as_deref()) else {
                self.waiting.push_front(job);
                break;
            };
            let seq_id = i32::try_from(got.slot).unwrap_or(i32::MAX);
            self.use_snapshots(seq_id, &job.prompt, &mut got);
            if got.trim {
                let keep = u32::try_from(got.reused).ok().filter(|n| *n > 0);
                // Recurrent models refuse partial removal: fall back to a full clear.
                if self.ctx.kv_cache_seq_rm(seq_id, keep, None).is_err() {
                    let _ = self.ctx.kv_cache_seq_rm(seq_id, None, None);
                    got.reused = 0;
                }
            }
            self.shared.admission.started();
            self.shared.counters.reused(got.reused);
            self.running.push(Sequence::new(job, got.slot, got.reused, chain));
        }
    }

    /// `snapshot` mode: copy the slot's state out before this prompt displaces it, then
    /// restore the snapshot sharing the longest prefix with the prompt when that beats
    /// what the slot kept. The restored cells are what prefill would have computed, so
    /// the output does not change.
    fn use_snapshots(&mut self, seq_id: i32, prompt: &[LlamaToken], got: &mut Acquired) {
        self.restore_snapshot(seq_id, prompt, got);
        if let Some(store) = &self.snapshots {
            self.shared.counters.snapshots(store.counters());
        }
    }

    fn restore_snapshot(&mut self, seq_id: i32, prompt: &[LlamaToken], got: &mut Acquired) {
        let Some(store) = &mut self.snapshots else { return };
        let displaced = store.worth_taking(&got.previous, got.reused);
        if displaced {
            if let Ok(state) = self.ctx.state_seq_get(seq_id, LlamaStateSeqFlags::empty()) {
                let tokens = std::mem::take(&mut got.previous);
                if let Some(disk) = &self.disk {
                    persist(&self.ctx, disk, seq_id, &tokens);
                }
                store.insert(tokens, state);
            }
        }
        let Some((state, shared, cut)) = store.best(prompt, got.reused) else { return };
        let _ = self.ctx.kv_cache_seq_rm(seq_id, None, None);
        if self.ctx.state_seq_set(state, seq_id).is_ok() {
            // Cells past the shared prefix are cut by the caller's trim.
            (got.reused, got.trim) = (shared, cut);
        } else {
            let _ = self.ctx.kv_cache_seq_rm(seq_id, None, None);
            (got.reused, got.trim) = (0, false);
        }
    }

    /// One decode call and the sampling that follows it.
    fn step(&mut self) {
        let needs: Vec<_> = self.running.iter().map(Sequence::need).collect();
        let n_batch = self.plan.n_batch as usize;
        let decoding = decodes(&needs, n_batch);
        let allowance = self.budget.as_ref().map_or(usize::MAX, |b| b.allowance(decoding, n_batch - decoding));
        let mut portions = plan_step(&needs, n_batch, self.plan.prefill_chunk as usize, allowance);
        // llama.cpp's per-sequence KV windows compute one pass per run of consecutive
        // sequence ids *in batch order*: sorted, slots {0..7} are one pass, not several.
        portions.sort_by_key(|p| self.running[p.index].seq_id());
        self.batch.clear();
        for seq in &mut self.running {
            seq.logits_at = None;
        }
        for p in &portions {
            let seq = &mut self.running[p.index];
            let end = seq.n_past + p.tokens;
            let seq_id = seq.seq_id();
            for pos in seq.n_past..end {
                let wants_logits = pos + 1 == seq.tokens.len();
                let at = self.batch.n_tokens();
                // Capacity is n_batch and plan_step never exceeds it.
                let _ = self.batch.add(seq.tokens[pos], pos as i32, &[seq_id], wants_logits);
                if wants_logits {
                    seq.logits_at = Some(at);
                }
            }
        }
        let started = Instant::now();
        let result = self.ctx.decode(&mut self.batch);
        let elapsed = started.elapsed();
        match result {
            Ok(()) => {}
            Err(DecodeError::NoKvCacheSlot) => return self.relieve_kv_pressure(&portions),
            Err(e) => return self.fail_all(&SippError::Execution(format!("llama_decode failed: {e}"))),
        }
        let total: usize = portions.iter().map(|p| p.tokens).sum();
        self.shared.counters.decoded(total, portions.len());
        let prompt: usize = portions
            .iter()
            .filter(|p| self.running[p.index].n_past < self.running[p.index].prompt_len)
            .map(|p| p.tokens)
            .sum();
        self.shared.counters.prompt_tokens(prompt);
        if let Some(budget) = &mut self.budget {
            budget.observe(decoding, prompt, elapsed);
        }
        for p in &portions {
            self.running[p.index].advanced(p.tokens, elapsed, portions.len());
        }
        self.take_interval_snapshots(&portions);
        // Before the tokens go out, so whoever sees one also sees the cells behind it
        // (a sequence that finishes republishes in `finish`).
        self.publish_kv_cells();
        self.sample_all();
    }

    /// `cache.snapshot_interval_tokens`: copy the state of sequences whose cells just
    /// reached the end of their prompt or crossed a multiple of the interval. Runs
    /// before sampling, when the cells are exactly `tokens[..n_past]`.
    fn take_interval_snapshots(&mut self, portions: &[Portion]) {
        let (Some(every), Some(store)) = (self.plan.snapshot_interval, &mut self.snapshots) else { return };
        let mut took = false;
        for p in portions {
            let seq = &self.running[p.index];
            let before = seq.n_past - p.tokens;
            let prompt_done = before < seq.prompt_len && seq.n_past >= seq.prompt_len;
            if !(prompt_done || seq.n_past / every > before / every) {
                continue;
            }
            let tokens = &seq.tokens[..seq.n_past];
            if !store.wants(tokens) {
                continue;
            }
            if let Ok(state) = self.ctx.state_seq_get(seq.seq_id(), LlamaStateSeqFlags::empty()) {
                took |= store.insert(tokens.to_vec(), state);
            }
        }
        if took {
            self.shared.counters.snapshots(store.counters());
        }
    }

    /// Cells holding tokens: running sequences' and idle slots' retained prefixes.
    fn publish_kv_cells(&self) {
        let used = self.running.iter().map(|s| s.n_past).sum::<usize>() + self.kv.retained_idle();
        self.shared.counters.kv_cells(used, self.plan.kv_cells);
    }

    fn sample_all(&mut self) {
        let n_ctx = self.plan.n_ctx_seq as usize;
        let mut i = 0;
        while i < self.running.len() {
            let seq = &mut self.running[i];
            let Some(at) = seq.logits_at.take() else {
                i += 1;
                continue;
            };
            let token = seq.sampler.sample(&self.ctx, at);
            let (first, latency) = seq.sampled();
            self.shared.counters.token(first, latency);
            match seq.accept(self.model, token, n_ctx) {
                Step::Continue => i += 1,
                Step::Finished(reason) => {
                    let seq = self.running.remove(i);
                    self.shared.counters.completed();
                    self.finish(seq, reason);
                }
            }
        }
    }

    /// Send the response and return the slot, keeping its KV for prefix reuse.
    fn finish(&mut self, seq: Sequence, reason: FinishReason) {
        let backend = self.plan.backend_profiling.then(|| {
            let t = self.ctx.timings();
            BackendProfile {
                prompt_eval_ms: t.t_p_eval_ms(),
                prompt_eval_tokens: t.n_p_eval(),
                eval_ms: t.t_eval_ms(),
                eval_tokens: t.n_eval(),
            }
        });
        // Leave admission before the caller hears of the end, so it can submit again.
        self.shared.admission.finished(true);
        let (slot, tokens, key) = seq.finish(reason, self.plan.runtime_metrics, backend);
        let keep = self.kv.release(slot, &tokens, key);
        let seq_id = i32::try_from(slot).unwrap_or(i32::MAX);
        let from = u32::try_from(keep).ok().filter(|n| *n > 0);
        if self.ctx.kv_cache_seq_rm(seq_id, from, None).is_err() {
            let _ = self.ctx.kv_cache_seq_rm(seq_id, None, None);
            self.kv.release(slot, &[], None);
        }
        self.publish_kv_cells();
    }

    /// The KV pool is full (reservations make this rare: fragmentation, or a model
    /// whose cells outgrow tokens): first drop prefixes idle slots keep for reuse; if none
    /// are left, the newest running request fails, with the settings to change.
    fn relieve_kv_pressure(&mut self, portions: &[Portion]) {
        // llama.cpp restores the cache on a failed decode; make sure no half-written
        // cells of this step survive either way.
        for p in portions {
            let seq = &self.running[p.index];
            let _ = self.ctx.kv_cache_seq_rm(seq.seq_id(), u32::try_from(seq.n_past).ok(), None);
        }
        let evicted = self.kv.evict_idle();
        if !evicted.is_empty() {
            for slot in evicted {
                let _ = self.ctx.kv_cache_seq_rm(i32::try_from(slot).unwrap_or(i32::MAX), None, None);
            }
            return;
        }
        if let Some(seq) = self.running.pop() {
            self.shared.admission.finished(true);
            self.shared.counters.failed();
            seq.job.fail(SippError::Execution(format!(
                "the KV cache ({} cells for {} running requests) is full; raise \
                 context.n_ctx, lower scheduler.max_running_requests, or unset context.kv_unified",
                self.plan.kv_cells,
                self.running.len() + 1
            )));
            let _ = self.ctx.kv_cache_seq_rm(seq.seq_id(), None, None);
            self.kv.release(seq.slot, &[], None);
        }
    }

    fn fail_all(&mut self, error: &SippError) {
        for seq in std::mem::take(&mut self.running) {
            self.shared.admission.finished(true);
            self.shared.counters.failed();
            seq.job.fail(error.clone());
            let _ = self.ctx.kv_cache_seq_rm(seq.seq_id(), None, None);
            self.kv.release(seq.slot, &[], None);
        }
    }
}
