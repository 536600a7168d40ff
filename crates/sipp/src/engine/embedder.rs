//! The embedding loop: packs as many waiting inputs as fit into one `decode`, one
//! sequence each, and reads each sequence's pooled vector.

use super::commands::{Command, Shared};
use super::plan::EnginePlan;
use super::request::{EmbedJob, Job};
use crate::error::SippError;
use crate::types::{SippEmbeddingResponse, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use std::sync::mpsc::Receiver;

pub(crate) fn run(mut ctx: LlamaContext<'_>, plan: &EnginePlan, shared: &Shared, commands: &Receiver<Command>) {
    let mut batch = LlamaBatch::new(plan.n_batch as usize, 1);
    let max_group = plan.n_seq_max as usize;
    let mut pending: Vec<EmbedJob> = Vec::new();
    loop {
        if pending.is_empty() {
            match commands.recv() {
                Ok(cmd) => {
                    if !take(cmd, &mut pending, shared) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
        while let Ok(cmd) = commands.try_recv() {
            if !take(cmd, &mut pending, shared) {
                return;
            }
        }
        let (cancelled, kept): (Vec<_>, Vec<_>) =
            pending.drain(..).partition(|job| job.cancel.is_cancelled() || job.reply.is_closed());
        pending = kept;
        for job in cancelled {
            shared.admission.finished(false);
            shared.counters.cancelled();
            let reason = job.cancel.reason().unwrap_or_else(|| "run dropped".into());
            let _ = job.reply.send(Err(SippError::Cancelled(reason)));
        }
        // Group inputs that fit one micro-batch: pooling reads each sequence whole from
        // one ubatch (inputs longer than n_ubatch are refused at submit).
        let mut group = Vec::new();
        let mut used = 0;
        while group.len() < max_group {
            let Some(job) = pending.first() else { break };
            let len = job.tokens.len();
            if used + len > plan.n_ubatch as usize && !group.is_empty() {
                break;
            }
            used += len;
            group.push(pending.remove(0));
        }
        if group.is_empty() {
            continue;
        }
        batch.clear();
        for (seq, job) in group.iter().enumerate() {
            shared.admission.started();
            for (pos, token) in job.tokens.iter().enumerate() {
                // Every token an output: an embedding context makes them all outputs anyway
                // (llama_batch_allocr), with one WARN line per request when told otherwise.
                let _ = batch.add(*token, pos as i32, &[seq as i32], true);
            }
        }
        let result = ctx.decode(&mut batch);
        shared.counters.decoded(used, group.len());
        for (seq, job) in group.into_iter().enumerate() {
            let reply = match &result {
                Err(e) => Err(SippError::Execution(format!("llama_decode failed: {e}"))),
                Ok(()) => ctx
                    .embeddings_seq_ith(seq as i32)
                    .map(|v| vector(v, job.normalize, job.tokens.len(), plan))
                    .map_err(|e| SippError::Execution(format!("no embedding for the input: {e}"))),
            };
            match &reply {
                Ok(_) => shared.counters.completed(),
                Err(_) => shared.counters.failed(),
            }
            shared.admission.finished(true);
            let _ = job.reply.send(reply);
            let _ = ctx.kv_cache_seq_rm(seq as i32, None, None);
        }
    }
}

fn take(cmd: Command, pending: &mut Vec<EmbedJob>, shared: &Shared) -> bool {
    match cmd {
        Command::Submit(Job::Embed(job)) => pending.push(job),
        Command::Submit(Job::Text(job)) => {
            shared.admission.finished(false);
            job.fail(SippError::UnsupportedOperation {
                endpoint: shared.id.clone(),
                operation: "text generation".into(),
                reason: "the endpoint was loaded with context.embeddings = true".into(),
            });
        }
        Command::Shutdown => {
            for job in pending.drain(..) {
                shared.admission.finished(false);
                let _ = job.reply.send(Err(SippError::EndpointClosed(shared.id.clone())));
            }
            return false;
        }
    }
    true
}

fn vector(values: &[f32], normalize: bool, n_tokens: usize, plan: &EnginePlan) -> SippEmbeddingResponse {
    let mut values = values.to_vec();
    if normalize {
        let norm = values.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        if norm > 0.0 {
            for v in &mut values {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
    }
    SippEmbeddingResponse {
        values,
        usage: Some(Usage::new(n_tokens, 0)),
        pooling: Some(plan.pooling),
        normalized: normalize,
    }
}
