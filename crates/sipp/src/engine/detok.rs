//! Streaming detokenizer: token pieces are raw bytes and one character may span
//! several tokens, so bytes go through a stateful UTF-8 decoder and only whole
//! characters come out.

use encoding_rs::{Decoder, UTF_8};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

pub(crate) struct PieceDecoder {
    decoder: Decoder,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for PieceDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PieceDecoder")
    }
}

impl PieceDecoder {
    pub(crate) fn new() -> Self {
        Self { decoder: UTF_8.new_decoder_without_bom_handling(), bytes: Vec::with_capacity(32) }
    }

    /// Text completed by this token (possibly empty while a character is incomplete).
    /// Control tokens render as nothing: they are structure, not text.
    pub(crate) fn push(&mut self, model: &LlamaModel, token: LlamaToken) -> String {
        self.bytes.clear();
        model.vocab().token_to_piece_into(token, &mut self.bytes, false, None);
        let mut out = String::with_capacity(
            self.decoder.max_utf8_buffer_length(self.bytes.len()).unwrap_or(self.bytes.len() * 3 + 4),
        );
        let _ = self.decoder.decode_to_string(&self.bytes, &mut out, false);
        out
    }
}
