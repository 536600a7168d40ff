//! The owner thread of one local endpoint: load the model, plan and create the context,
//! open the snapshot directory, report ready, then run the text or embedding loop until
//! shutdown. A panic here never unwinds into a caller: queued requests fail instead.

use super::commands::{Command, Shared};
use super::memory::ModelShape;
use super::plan::EnginePlan;
use super::request::Job;
use super::{context_params::context_params, embedder, loader, residency, transcode, worker::TextWorker};
use crate::error::{Result, SippError};
use crate::kv_cache::{Identity, SnapshotDir};
use crate::types::{Backend, ModelInfo, NativeRuntimeConfig};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// What the thread hands back once the model and context exist.
pub(crate) struct Loaded {
    pub model: Arc<LlamaModel>,
    pub info: ModelInfo,
}

pub(crate) fn owner_thread(
    path: &Path,
    config: &NativeRuntimeConfig,
    backend: Backend,
    shared: &Shared,
    commands: &mpsc::Receiver<Command>,
    ready: oneshot::Sender<Result<Loaded>>,
) {
    // A panic must never unwind into a caller; it becomes an error for whoever waits.
    let outcome = catch_unwind(AssertUnwindSafe(|| serve(path, config, backend, shared, commands, ready)));
    if outcome.is_err() {
        tracing::error!(endpoint = %shared.id, "engine thread panicked; in-flight requests fail");
        while let Ok(cmd) = commands.try_recv() {
            if let Command::Submit(job) = cmd {
                let e = SippError::Execution("the engine thread stopped unexpectedly".into());
                match job {
                    Job::Text(j) => j.fail(e),
                    Job::Embed(j) => {
                        let _ = j.reply.send(Err(e));
                    }
                }
            }
        }
    }
}

fn serve(
    path: &Path,
    config: &NativeRuntimeConfig,
    backend: Backend,
    shared: &Shared,
    commands: &mpsc::Receiver<Command>,
    ready: oneshot::Sender<Result<Loaded>>,
) {
    let fail = |ready: oneshot::Sender<Result<Loaded>>, e: SippError| {
        let _ = ready.send(Err(e));
    };
    // The lease is held until this function returns: for as long as the model is loaded.
    let (_lease, weights, model, plan) = match load(path, config, backend) {
        Ok(loaded) => loaded,
        Err(e) => return fail(ready, e),
    };
    let (ctx, disk) = match open_context(&model, &plan, path, &weights) {
        Ok(opened) => opened,
        Err(e) => return fail(ready, e),
    };
    shared.admission.set_running_limit(plan.n_seq_max);
    let info = ModelInfo {
        path: path.to_path_buf(),
        architecture: model.meta_val_str("general.architecture").unwrap_or_default(),
        file_type: model.meta_val_str("general.file_type").ok().and_then(|v| v.parse().ok()),
        backend,
        n_ctx_train: model.n_ctx_train(),
        n_ctx: plan.n_ctx_seq,
        max_input_tokens: if plan.embeddings { plan.n_ctx_seq.min(plan.n_ubatch) } else { plan.n_ctx_seq },
        n_seq_max: plan.n_seq_max,
        kv_unified: plan.kv_unified,
        deterministic: plan.deterministic,
        kv_cells: plan.kv_cells,
        kv_bytes: plan.kv_bytes,
        n_vocab: model.n_vocab(),
        n_embd: model.n_embd(),
        // Filled in by `Engine::start`, which reads the template once.
        has_chat_template: false,
        embeddings: plan.embeddings,
    };
    let loaded = Loaded { model: Arc::clone(&model), info };
    if plan.embeddings {
        if ready.send(Ok(loaded)).is_ok() {
            embedder::run(ctx, &plan, shared, commands);
        }
    } else {
        // Built before `add` returns: it loads persisted snapshots first.
        let mut worker = TextWorker::new(ctx, &model, &plan, shared, disk);
        if ready.send(Ok(loaded)).is_ok() {
            worker.run(commands);
        }
    }
}

/// Everything before the context: the residency lease, the weights file (transcoded or
/// as given), the model and its plan.
fn load(
    path: &Path,
    config: &NativeRuntimeConfig,
    backend: Backend,
) -> Result<(residency::Lease, PathBuf, Arc<LlamaModel>, EnginePlan)> {
    let gpu_layers = if backend == Backend::Cpu { 0 } else { config.placement.gpu_layers.unwrap_or(u32::MAX) };
    let device = residency::device_of(backend, gpu_layers, config.placement.main_gpu);
    let lease = residency::acquire(&config.residency, device)?;
    let weights = transcode::prepare(path, &config.placement)?;
    let model = Arc::new(loader::load_model(&weights, &config.placement, backend, gpu_layers)?);
    let plan = EnginePlan::new(config, backend, &ModelShape::of(&model))?;
    Ok((lease, weights, model, plan))
}

/// The context with every KV cell the plan asked for, and the snapshot directory.
fn open_context<'m>(
    model: &'m LlamaModel,
    plan: &EnginePlan,
    path: &Path,
    weights: &Path,
) -> Result<(LlamaContext<'m>, Option<SnapshotDir>)> {
    let unusable = |reason: String| SippError::ModelLoad { path: path.to_path_buf(), reason };
    let ctx = model
        .new_context(super::backend::llama()?, context_params(plan))
        .map_err(|e| unusable(format!("cannot create a context: {e}")))?;
    // llama.cpp rounds the context up, never down; fewer cells would break the windows.
    if ctx.n_ctx() < plan.kv_cells {
        return Err(unusable(format!(
            "llama.cpp made {} KV cells where {} were asked for",
            ctx.n_ctx(),
            plan.kv_cells
        )));
    }
    // Snapshots belong to the weights that computed them: a transcoded file's own.
    Ok((ctx, snapshot_dir(weights, plan)?))
}

/// `cache.snapshot_dir`, opened for this model and context shape (text endpoints only).
fn snapshot_dir(model: &Path, plan: &EnginePlan) -> Result<Option<SnapshotDir>> {
    let (Some(dir), Some((entries, bytes)), false) = (&plan.snapshot_dir, plan.snapshots, plan.embeddings) else {
        return Ok(None);
    };
    let refuse = |e: std::io::Error| SippError::InvalidConfig(format!("cache.snapshot_dir {}: {e}", dir.display()));
    let identity =
        Identity::of(model, plan.n_ctx_seq, plan.kv_unified, super::context_params::kv_types(plan)).map_err(refuse)?;
    SnapshotDir::open(dir, identity, entries, bytes).map(Some).map_err(refuse)
}
