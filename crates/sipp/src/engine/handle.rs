//! `Engine`: the handle to one loaded local endpoint. It owns the endpoint's thread,
//! which holds the llama.cpp context (not `Send`) for its whole life; everything else
//! talks to it over a channel. Dropping the handle shuts the thread down and unloads
//! the model.

use super::backend::resolve_backend;
use crate::types::Backend;
use crate::types::endpoint::Prompt;
use super::chat_template::ChatTemplate;
use crate::types::{FlashAttention, NativeRuntimeConfig, PoolingType};
use crate::types::{SippEmbeddingResponse, TextEvent};
use super::memory::ModelShape;
use super::plan::{check_logit_bias, validate, EnginePlan};
use super::request::{EmbedJob, Job, TextJob, TextParams};
use crate::types::CancelToken;
use super::stats::EngineCounters;
use crate::types::{EngineStats, ModelInfo};
use super::{embedder, loader, prompt, worker::TextWorker};
use crate::error::{Result, SippError};
use crate::kv_cache::{Identity, SnapshotDir};
use crate::scheduler::Admission;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::{mpsc as tmpsc, oneshot};

pub(crate) enum Command {
    Submit(Job),
    Shutdown,
}

/// State shared by the handle and the engine thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub id: String,
    pub admission: Admission,
    pub counters: EngineCounters,
}

/// Handle to a running local engine.
pub struct Engine {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    model: Arc<LlamaModel>,
    template: Option<Result<ChatTemplate>>,
    info: ModelInfo,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("id", &self.shared.id).field("info", &self.info).finish_non_exhaustive()
    }
}

struct Loaded {
    model: Arc<LlamaModel>,
    info: ModelInfo,
}

impl Engine {
    /// Load `path` on a new owner thread. Resolves once the model and context exist.
    pub async fn start(id: &str, path: &Path, config: &NativeRuntimeConfig, backend: Backend) -> Result<Self> {
        validate(config)?;
        loader::check_file(path)?;
        let backend = resolve_backend(backend)?;
        let shared = Arc::new(Shared {
            id: id.to_string(),
            admission: Admission::new(config.scheduler.max_queued_requests),
            counters: EngineCounters::default(),
        });
        let (commands, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            let path = path.to_path_buf();
            let config = config.clone();
            std::thread::Builder::new()
                .name(format!("sipp-engine-{id}"))
                .spawn(move || owner_thread(&path, &config, backend, &shared, &rx, ready_tx))
                .map_err(|e| SippError::Execution(format!("cannot spawn engine thread: {e}")))?
        };
        let loaded = match ready_rx.await {
            Ok(Ok(loaded)) => loaded,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(SippError::ModelLoad {
                    path: path.to_path_buf(),
                    reason: "the engine thread stopped while loading".into(),
                });
            }
        };
        let template = loader::chat_template(&loaded.model);
        let info = ModelInfo { has_chat_template: template.is_some(), ..loaded.info };
        Ok(Self { commands, shared, template, model: loaded.model, info, thread: Some(thread) })
    }

    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    #[must_use]
    pub fn stats(&self) -> EngineStats {
        self.shared.counters.snapshot(self.shared.admission.waiting())
    }

    /// Tokenize on the caller's thread so bad prompts fail before they queue.
    pub(crate) fn tokenize(&self, input: Prompt<'_>) -> Result<Vec<LlamaToken>> {
        let tokens = match input {
            Prompt::Raw(text) => prompt::tokenize_raw(&self.model, text),
            Prompt::Chat(messages) => {
                let template = match &self.template {
                    None => return Err(SippError::ChatTemplateMissing { endpoint: self.shared.id.clone() }),
                    Some(Err(e)) => return Err(e.clone()),
                    Some(Ok(t)) => t,
                };
                if messages.is_empty() {
                    return Err(SippError::InvalidRequest("chat needs at least one message".into()));
                }
                prompt::tokenize_segments(&self.model, &template.render(messages)?)
            }
        };
        if tokens.is_empty() {
            return Err(SippError::InvalidRequest("the prompt is empty".into()));
        }
        // Room for at least one generated token.
        if tokens.len() >= self.info.n_ctx as usize {
            return Err(SippError::ContextOverflow {
                prompt_tokens: tokens.len(),
                limit: self.info.n_ctx,
                setting: "context.n_ctx",
            });
        }
        Ok(tokens)
    }

    /// GBNF for a JSON schema, compiled with llama.cpp's own converter.
    pub(crate) fn schema_grammar(schema: &str) -> Result<String> {
        llama_cpp_2::json_schema_to_grammar(schema)
            .map_err(|e| SippError::Grammar(format!("json_schema is invalid or uses unsupported features ({e})")))
    }

    pub(crate) fn submit_text(
        &self,
        prompt: Vec<LlamaToken>,
        params: TextParams,
    ) -> Result<(tmpsc::UnboundedReceiver<TextEvent>, Arc<CancelToken>)> {
        if self.info.embeddings {
            return Err(SippError::UnsupportedOperation {
                endpoint: self.shared.id.clone(),
                operation: "text generation".into(),
                reason: "the endpoint was loaded with context.embeddings = true; add a separate text endpoint".into(),
            });
        }
        check_logit_bias(params.sampling.logit_bias.as_deref(), u32::try_from(self.info.n_vocab).unwrap_or(0))
            .map_err(SippError::InvalidRequest)?;
        self.shared.admission.enter()?;
        let (events, rx) = tmpsc::unbounded_channel();
        let cancel = Arc::new(CancelToken::default());
        let job = TextJob { prompt, params, events, cancel: Arc::clone(&cancel), submitted: Instant::now() };
        self.send(Job::Text(job))?;
        Ok((rx, cancel))
    }

    pub(crate) fn submit_embed(
        &self,
        input: &str,
        normalize: bool,
    ) -> Result<(oneshot::Receiver<Result<SippEmbeddingResponse>>, Arc<CancelToken>)> {
        if !self.info.embeddings {
            return Err(SippError::UnsupportedOperation {
                endpoint: self.shared.id.clone(),
                operation: "embed".into(),
                reason: "the endpoint was loaded for text generation; load an embedding endpoint with \
                         context.embeddings = true"
                    .into(),
            });
        }
        let tokens = prompt::tokenize_plain(&self.model, input);
        if tokens.is_empty() {
            return Err(SippError::InvalidRequest("the embedding input is empty".into()));
        }
        if tokens.len() > self.info.max_input_tokens as usize {
            let setting =
                if self.info.max_input_tokens < self.info.n_ctx { "context.n_ubatch" } else { "context.n_ctx" };
            return Err(SippError::ContextOverflow {
                prompt_tokens: tokens.len(),
                limit: self.info.max_input_tokens,
                setting,
            });
        }
        self.shared.admission.enter()?;
        let (reply, rx) = oneshot::channel();
        let cancel = Arc::new(CancelToken::default());
        self.send(Job::Embed(EmbedJob { tokens, normalize, reply, cancel: Arc::clone(&cancel) }))?;
        Ok((rx, cancel))
    }

    fn send(&self, job: Job) -> Result<()> {
        self.commands.send(Command::Submit(job)).map_err(|_| {
            self.shared.admission.finished(false);
            SippError::EndpointClosed(self.shared.id.clone())
        })
    }
}

impl Drop for Engine {
    /// In-flight requests end with `EndpointClosed`; the thread frees context and model.
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn owner_thread(
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
    let gpu_layers = if backend == Backend::Cpu { 0 } else { config.placement.gpu_layers.unwrap_or(u32::MAX) };
    let model = match loader::load_model(path, &config.placement, backend, gpu_layers) {
        Ok(m) => Arc::new(m),
        Err(e) => return fail(ready, e),
    };
    let plan = match EnginePlan::new(config, backend, &ModelShape::of(&model)) {
        Ok(p) => p,
        Err(e) => return fail(ready, e),
    };
    let ctx = match super::backend::llama().and_then(|b| {
        model.new_context(b, context_params(&plan)).map_err(|e| SippError::ModelLoad {
            path: path.to_path_buf(),
            reason: format!("cannot create a context: {e}"),
        })
    }) {
        Ok(ctx) => ctx,
        Err(e) => return fail(ready, e),
    };
    // llama.cpp rounds the context up, never down; fewer cells would break the windows.
    if ctx.n_ctx() < plan.kv_cells {
        return fail(
            ready,
            SippError::ModelLoad {
                path: path.to_path_buf(),
                reason: format!("llama.cpp made {} KV cells where {} were asked for", ctx.n_ctx(), plan.kv_cells),
            },
        );
    }
    let disk = match snapshot_dir(path, &plan) {
        Ok(d) => d,
        Err(e) => return fail(ready, e),
    };
    shared.admission.set_running_limit(plan.n_seq_max);
    let info = ModelInfo {
        path: path.to_path_buf(),
        architecture: model.meta_val_str("general.architecture").unwrap_or_default(),
        backend,
        n_ctx_train: model.n_ctx_train(),
        n_ctx: plan.n_ctx_seq,
        max_input_tokens: if plan.embeddings { plan.n_ctx_seq.min(plan.n_ubatch) } else { plan.n_ctx_seq },
        n_seq_max: plan.n_seq_max,
        kv_unified: plan.kv_unified,
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

/// `cache.snapshot_dir`, opened for this model and context shape (text endpoints only).
fn snapshot_dir(model: &Path, plan: &EnginePlan) -> Result<Option<SnapshotDir>> {
    let (Some(dir), Some((entries, bytes)), false) = (&plan.snapshot_dir, plan.snapshots, plan.embeddings) else {
        return Ok(None);
    };
    let refuse = |e: std::io::Error| SippError::InvalidConfig(format!("cache.snapshot_dir {}: {e}", dir.display()));
    let identity = Identity::of(model, plan.n_ctx_seq, plan.kv_unified).map_err(refuse)?;
    SnapshotDir::open(dir, identity, entries, bytes).map(Some).map_err(refuse)
}

fn context_params(plan: &EnginePlan) -> LlamaContextParams {
    let mut p = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(plan.kv_cells))
        .with_n_batch(plan.n_batch)
        .with_n_ubatch(plan.n_ubatch)
        .with_n_seq_max(plan.n_seq_max)
        .with_kv_unified(plan.kv_unified)
        .with_n_threads(plan.n_threads)
        .with_n_threads_batch(plan.n_threads_batch)
        .with_offload_kqv(plan.offload_kqv)
        .with_no_perf(!plan.backend_profiling)
        .with_embeddings(plan.embeddings);
    if plan.embeddings {
        p = p.with_pooling_type(match plan.pooling {
            PoolingType::None => LlamaPoolingType::None,
            PoolingType::Mean => LlamaPoolingType::Mean,
            PoolingType::Cls => LlamaPoolingType::Cls,
            PoolingType::Last => LlamaPoolingType::Last,
            PoolingType::Rank => LlamaPoolingType::Rank,
        });
    }
    if let Some(fa) = plan.flash_attention {
        p = p.with_flash_attention_policy(match fa {
            FlashAttention::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttention::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttention::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        });
    }
    p
}
