//! Opens a GGUF file: clear errors for a missing path or a file that is not GGUF,
//! before llama.cpp sees it.

use super::backend::llama;
use super::chat_template::ChatTemplate;
use super::gguf;
use crate::error::{Result, SippError};
use crate::types::Backend;
use crate::types::{PlacementRuntimeConfig, SplitMode};
use llama_cpp_2::model::params::{LlamaModelParams, LlamaSplitMode};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token_type::LlamaTokenAttr;
use std::io::Read;
use std::path::Path;

const GGUF_MAGIC: &[u8; 4] = b"GGUF";
const CHAT_TEMPLATE_KEY: &str = "tokenizer.chat_template";

/// Cheap checks first, so a typo in a path never reaches llama.cpp.
pub(crate) fn check_file(path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SippError::ModelNotFound { path: path.to_path_buf() },
        _ => SippError::ModelLoad { path: path.to_path_buf(), reason: e.to_string() },
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(SippError::NotGguf { path: path.to_path_buf(), reason: "it is a directory".into() });
    }
    let mut magic = [0u8; 4];
    match file.read_exact(&mut magic) {
        Ok(()) if &magic == GGUF_MAGIC => {}
        Ok(()) => {
            return Err(SippError::NotGguf {
                path: path.to_path_buf(),
                reason: "the file does not start with the GGUF magic bytes".into(),
            })
        }
        Err(_) => {
            return Err(SippError::NotGguf {
                path: path.to_path_buf(),
                reason: "the file is shorter than a GGUF header".into(),
            })
        }
    }
    let header = gguf::read_header(path)
        .map_err(|e| SippError::ModelLoad { path: path.to_path_buf(), reason: e.to_string() })?
        .map_err(|damage| SippError::ModelLoad { path: path.to_path_buf(), reason: damage.to_string() })?;
    // The engine decodes causally; an encoder-decoder model would run as if it were a
    // decoder and answer nonsense.
    if header.encoder_decoder || ENCODER_ARCHITECTURES.contains(&header.architecture.as_str()) {
        return Err(SippError::not_supported(
            &format!("encoder-decoder model (general.architecture = {})", header.architecture),
            "the engine runs decoder-only (causal) models and BERT-style embedding models; the encoder-decoder \
             query arrives in a later release",
        ));
    }
    Ok(())
}

/// Architectures that need llama.cpp's encoder pass (`llama_encode`), which the engine
/// does not run yet.
const ENCODER_ARCHITECTURES: [&str; 2] = ["t5", "t5encoder"];

/// Load a file that already passed [`check_file`].
pub(crate) fn load_model(
    path: &Path,
    placement: &PlacementRuntimeConfig,
    backend: Backend,
    gpu_layers: u32,
) -> Result<LlamaModel> {
    let mut params = LlamaModelParams::default().with_n_gpu_layers(gpu_layers);
    if let Some(v) = placement.use_mmap {
        params = params.with_use_mmap(v);
    }
    if let Some(v) = placement.use_mlock {
        params = params.with_use_mlock(v);
    }
    if backend != Backend::Cpu {
        if let Some(gpu) = placement.main_gpu {
            params = params.with_main_gpu(gpu);
        }
        if let Some(mode) = placement.split_mode {
            params = params.with_split_mode(match mode {
                SplitMode::None => LlamaSplitMode::None,
                SplitMode::Layer => LlamaSplitMode::Layer,
                SplitMode::Row => LlamaSplitMode::Row,
            });
        }
        if let Some(devices) = &placement.devices {
            params = params
                .with_devices(devices)
                .map_err(|e| SippError::InvalidConfig(format!("placement.devices: {e}")))?;
        }
    }
    LlamaModel::load_from_file(llama()?, path, &params)
        .map_err(|e| SippError::ModelLoad { path: path.to_path_buf(), reason: e.to_string() })
}

/// The model's own chat template, if its GGUF declares one. Only the metadata key
/// counts: llama.cpp's fallback guesses would render chat for models that have none.
pub(crate) fn chat_template(model: &LlamaModel) -> Option<Result<ChatTemplate>> {
    let source = model.meta_val_str(CHAT_TEMPLATE_KEY).ok()?;
    let vocab = model.vocab();
    let text = |t| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    // What `tokenize(.., parse_special = true)` matches as one token: control, user-defined
    // and unknown-type tokens.
    let special = LlamaTokenAttr::Control | LlamaTokenAttr::UserDefined | LlamaTokenAttr::Unknown;
    // `attr` panics on attribute bits it does not know; a model must not take the caller
    // down for that, nor let chat content pass as control tokens: chat fails instead.
    let specials = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        vocab
            .tokens()
            .filter(|t| vocab.attr(*t).intersects(special))
            .filter_map(|t| vocab.text(t).map(|c| c.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
    }));
    let Ok(specials) = specials else {
        return Some(Err(SippError::ChatTemplate("the vocabulary's special tokens cannot be read".into())));
    };
    Some(ChatTemplate::new(&source, text(vocab.bos()), text(vocab.eos()), specials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_non_gguf_files_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.gguf");
        assert_eq!(check_file(&missing).unwrap_err().code(), "model_not_found");
        let text = dir.path().join("notes.gguf");
        std::fs::write(&text, "hello, I am not a model").unwrap();
        assert_eq!(check_file(&text).unwrap_err().code(), "not_gguf");
        let short = dir.path().join("short.gguf");
        std::fs::write(&short, "GG").unwrap();
        assert_eq!(check_file(&short).unwrap_err().code(), "not_gguf");
        assert_eq!(check_file(dir.path()).unwrap_err().code(), "not_gguf");
    }

    #[test]
    fn encoder_decoder_models_are_refused_before_loading() {
        let dir = tempfile::tempdir().unwrap();
        let t5 = dir.path().join("t5.gguf");
        std::fs::write(&t5, gguf::tests::tiny_of("t5", 16)).unwrap();
        let e = check_file(&t5).unwrap_err();
        assert_eq!(e.code(), "not_supported");
        assert!(e.to_string().contains("general.architecture = t5"), "{e}");
    }
}
