//! Prompt tokenization. `query` parses special-token text (the caller owns the whole
//! prompt); chat content never does (see `chat_template.rs`).

use super::chat_template::Segment;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

pub(crate) fn tokenize_raw(model: &LlamaModel, prompt: &str) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    vocab.tokenize(prompt.as_bytes(), vocab.should_add_bos(), true)
}

pub(crate) fn tokenize_segments(model: &LlamaModel, segments: &[Segment]) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut out = Vec::new();
    for segment in segments {
        match segment {
            Segment::Template(text) => out.extend(vocab.tokenize(text.as_bytes(), false, true)),
            Segment::Content(text) => out.extend(vocab.tokenize(text.as_bytes(), false, false)),
        }
    }
    // Templates that omit BOS on a model that wants it get one, exactly once.
    if vocab.should_add_bos() && out.first() != Some(&vocab.bos()) {
        out.insert(0, vocab.bos());
    }
    out
}

/// Plain-text tokenization for embeddings, with the special tokens the model's metadata
/// asks for (`add_bos_token`, `add_eos_token`, `add_sep_token`: BERT's [CLS] … [SEP],
/// the EOS that last-token pooling reads); llama.cpp applies each flag.
pub(crate) fn tokenize_plain(model: &LlamaModel, text: &str) -> Vec<LlamaToken> {
    model.vocab().tokenize(text.as_bytes(), true, false)
}
