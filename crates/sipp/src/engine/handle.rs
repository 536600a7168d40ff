//! `Engine`: the handle to one loaded local endpoint. It owns the endpoint's thread,
//! which holds the llama.cpp context (not `Send`) for its whole life; everything else
//! talks to it over a channel. Dropping the handle shuts the thread down and unloads
//! the model.

use super::backend::resolve_backend;
use super::chat_template::ChatTemplate;
use super::commands::{Command, Shared};
use super::owner::owner_thread;
use super::plan::{check_logit_bias, validate};
use super::request::{EmbedJob, Job, TextJob, TextParams};
use super::stats::EngineCounters;
use super::{loader, prompt};
use crate::error::{Result, SippError};
use crate::scheduler::Admission;
use crate::types::TextPrompt;
use crate::types::{Backend, CancelToken, EngineStats, ModelInfo, NativeRuntimeConfig};
use crate::types::{SippEmbeddingResponse, TextEvent};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::{mpsc as tmpsc, oneshot};

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
        self.shared.counters.snapshot(self.shared.admission.waiting(), self.shared.admission.running())
    }

    /// Tokenize on the caller's thread so bad prompts fail before they queue.
    pub(crate) fn tokenize(&self, input: &TextPrompt) -> Result<Vec<LlamaToken>> {
        let tokens = match input {
            TextPrompt::Raw(text) => prompt::tokenize_raw(&self.model, text),
            TextPrompt::Messages(messages) => {
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
