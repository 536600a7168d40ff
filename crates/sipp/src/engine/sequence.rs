//! One running text request inside the engine thread.

use super::detok::PieceDecoder;
use super::request::TextJob;
use super::stop::StopMatcher;
use crate::scheduler::Need;
use crate::types::{BackendProfile, FinishReason, LocalStats, SippTextResponse, TextEvent, TokenBatch, Usage};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::time::{Duration, Instant};

pub(crate) struct Sequence {
    pub job: TextJob,
    /// llama.cpp sequence id (= KV slot).
    pub slot: usize,
    /// Prompt, then generated tokens; `tokens[..n_past]` are in the KV cache.
    pub tokens: Vec<LlamaToken>,
    pub n_past: usize,
    pub prompt_len: usize,
    pub reused: usize,
    pub sampler: LlamaSampler,
    /// Batch index whose logits belong to this sequence after the current decode.
    pub logits_at: Option<i32>,
    decoder: PieceDecoder,
    stop: StopMatcher,
    text: String,
    generated: usize,
    batches_sent: u64,
    // Timing, for local_stats.
    started: Instant,
    first_token: Option<Instant>,
    /// When the previous token was sampled (inter-token latency).
    last_token: Option<Instant>,
    prefill_time: Duration,
    max_batch_sequences: usize,
}

/// Outcome of feeding one sampled token.
pub(crate) enum Step {
    Continue,
    Finished(FinishReason),
}

impl Sequence {
    pub(crate) fn new(job: TextJob, slot: usize, reused: usize, sampler: LlamaSampler) -> Self {
        let tokens = job.prompt.clone();
        let stop = StopMatcher::new(&job.params.stop);
        Self {
            prompt_len: tokens.len(),
            tokens,
            n_past: reused,
            reused,
            slot,
            sampler,
            logits_at: None,
            decoder: PieceDecoder::new(),
            stop,
            text: String::new(),
            generated: 0,
            batches_sent: 0,
            started: Instant::now(),
            first_token: None,
            last_token: None,
            prefill_time: Duration::ZERO,
            max_batch_sequences: 0,
            job,
        }
    }

    pub(crate) fn seq_id(&self) -> i32 {
        i32::try_from(self.slot).unwrap_or(i32::MAX)
    }

    pub(crate) fn need(&self) -> Need {
        if self.n_past < self.prompt_len {
            Need::Prefill(self.prompt_len - self.n_past)
        } else {
            Need::Decode
        }
    }

    /// Bookkeeping after a decode that carried `count` of this sequence's tokens.
    pub(crate) fn advanced(&mut self, count: usize, step_time: Duration, batch_sequences: usize) {
        if self.n_past < self.prompt_len {
            self.prefill_time += step_time;
        }
        self.n_past += count;
        self.max_batch_sequences = self.max_batch_sequences.max(batch_sequences);
    }

    /// A token was just sampled: whether it is the first, and its latency (since submit
    /// for the first, since the previous token after that).
    pub(crate) fn sampled(&mut self) -> (bool, Duration) {
        let now = Instant::now();
        let since = self.last_token.replace(now);
        if self.first_token.is_none() {
            self.first_token = Some(now);
        }
        match since {
            None => (true, now - self.job.submitted),
            Some(previous) => (false, now - previous),
        }
    }

    /// Feed the token sampled for this sequence; emits text as it becomes final.
    pub(crate) fn accept(&mut self, model: &LlamaModel, token: LlamaToken, n_ctx: usize) -> Step {
        if self.first_token.is_none() {
            self.first_token = Some(Instant::now());
        }
        if model.vocab().is_eog(token) {
            return Step::Finished(FinishReason::Stop);
        }
        self.generated += 1;
        self.tokens.push(token);
        let piece = self.decoder.push(model, token);
        let released = self.stop.push(&piece);
        self.emit(&released.text, token);
        if released.stopped {
            return Step::Finished(FinishReason::Stop);
        }
        let limit = self.job.params.max_tokens.map_or(usize::MAX, |m| m as usize);
        // The next decode needs a free position for this token.
        if self.generated >= limit || self.tokens.len() >= n_ctx {
            return Step::Finished(FinishReason::Length);
        }
        Step::Continue
    }

    fn emit(&mut self, text: &str, token: LlamaToken) {
        self.text.push_str(text);
        if self.job.params.emit_tokens {
            let batch = TokenBatch { text: text.to_string(), token_ids: vec![token.0], sequence: self.batches_sent };
            self.batches_sent += 1;
            let _ = self.job.events.send(TextEvent::Tokens(batch));
        }
    }

    /// Send the final response and hand back what the slot's KV holds. Text held back
    /// for a possible stop string is released (a matched stop string was already cut).
    pub(crate) fn finish(
        mut self,
        reason: FinishReason,
        metrics: bool,
        backend: Option<BackendProfile>,
    ) -> (usize, Vec<LlamaToken>, Option<String>) {
        let rest = self.stop.flush();
        if !rest.is_empty() {
            self.text.push_str(&rest);
            if self.job.params.emit_tokens {
                let batch = TokenBatch { text: rest, token_ids: Vec::new(), sequence: self.batches_sent };
                let _ = self.job.events.send(TextEvent::Tokens(batch));
            }
        }
        let local_stats = metrics.then(|| self.stats(backend));
        let response = SippTextResponse {
            text: std::mem::take(&mut self.text),
            finish_reason: reason,
            usage: Some(Usage::new(self.prompt_len, self.generated)),
            local_stats,
        };
        let _ = self.job.events.send(TextEvent::Done(response));
        self.tokens.truncate(self.n_past);
        (self.slot, self.tokens, self.job.params.context_key)
    }

    fn stats(&self, backend: Option<BackendProfile>) -> LocalStats {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let now = Instant::now();
        let prefill_tokens = self.prompt_len - self.reused;
        let decode = self.first_token.map_or(Duration::ZERO, |t| now - t);
        let per_second = |n: usize, d: Duration| {
            if d.is_zero() {
                0.0
            } else {
                n as f64 / d.as_secs_f64()
            }
        };
        LocalStats {
            ttft_ms: self.first_token.map_or(0.0, |t| ms(t - self.job.submitted)),
            queue_ms: ms(self.started - self.job.submitted),
            prefill_ms: ms(self.prefill_time),
            prefill_tokens: u32::try_from(prefill_tokens).unwrap_or(u32::MAX),
            prefill_tokens_per_second: per_second(prefill_tokens, self.prefill_time),
            decode_ms: ms(decode),
            // The first token comes from the prefill step; the rest are decode steps.
            decode_tokens_per_second: per_second(self.generated.saturating_sub(1), decode),
            cached_prompt_tokens: u32::try_from(self.reused).unwrap_or(u32::MAX),
            max_batch_sequences: u32::try_from(self.max_batch_sequences).unwrap_or(u32::MAX),
            backend,
        }
    }
}
