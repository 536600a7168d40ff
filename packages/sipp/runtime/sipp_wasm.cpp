// The browser runtime's C ABI over llama.cpp (compiled with Emscripten into
// sipp-wasm.js + sipp-wasm.wasm, and with -pthread into sipp-wasm-pthread.*, by
// `cargo xtask build web`). One model and one context per handle and one sequence at a
// time: the worker (src/local/worker.ts) calls these in order and owns all scheduling.
// Every function reports failure by its return value and `sipp_last_error()`, never by
// throwing across the boundary.
#include "llama.h"

#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

std::string g_error;

struct Session {
    llama_model * model = nullptr;
    llama_context * ctx = nullptr;
    llama_sampler * sampler = nullptr;
    const llama_vocab * vocab = nullptr;
    bool embeddings = false;
    int n_past = 0;
    int remaining = 0;
    std::string piece;
    std::string prompt_buf;
};

bool fail(const std::string & why) {
    g_error = why;
    return false;
}

/// `f()`, or `on_error` with the exception's message in g_error: llama.cpp throws (a
/// failed allocation, std::system_error from a thread), and an exception that reached
/// JavaScript would say nothing but "WebAssembly.Exception".
template <typename T, typename F> T guarded(T on_error, F && f) {
    try {
        return f();
    } catch (const std::exception & e) {
        g_error = std::string("llama.cpp threw: ") + e.what();
    } catch (...) {
        g_error = "llama.cpp threw an exception that is not a std::exception";
    }
    return on_error;
}

void log_quiet(ggml_log_level level, const char * text, void *) {
    // Errors reach the page through sipp_last_error; llama.cpp's chatter stays out of the console.
    if (level == GGML_LOG_LEVEL_ERROR) g_error = text;
}

std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text, bool special) {
    int n = -llama_tokenize(vocab, text.data(), (int32_t) text.size(), nullptr, 0, true, special);
    std::vector<llama_token> out(n > 0 ? n : 0);
    if (n > 0) llama_tokenize(vocab, text.data(), (int32_t) text.size(), out.data(), n, true, special);
    return out;
}

bool decode_all(Session * s, std::vector<llama_token> & tokens, bool logits_last) {
    const int n_batch = (int) llama_n_batch(s->ctx);
    for (size_t i = 0; i < tokens.size(); i += n_batch) {
        int n = (int) std::min<size_t>(n_batch, tokens.size() - i);
        llama_batch batch = llama_batch_init(n, 0, 1);
        for (int j = 0; j < n; j++) {
            batch.token[j] = tokens[i + j];
            batch.pos[j] = s->n_past + j;
            batch.n_seq_id[j] = 1;
            batch.seq_id[j][0] = 0;
            batch.logits[j] = logits_last ? (i + j == tokens.size() - 1) : true;
        }
        batch.n_tokens = n;
        int rc = llama_decode(s->ctx, batch);
        llama_batch_free(batch);
        if (rc != 0) return fail("llama_decode failed with " + std::to_string(rc));
        s->n_past += n;
    }
    return true;
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char * sipp_last_error() { return g_error.c_str(); }

EMSCRIPTEN_KEEPALIVE void sipp_init() {
    llama_log_set(log_quiet, nullptr);
    llama_backend_init();
}

/// Load `path`; pooling: -1 unset, else llama_pooling_type. Returns a handle or 0.
static Session * sipp_load_impl(const char * path, int n_ctx, int n_batch, int n_threads, int n_threads_batch,
                                int embeddings, int pooling) {
    g_error.clear();
    llama_model_params mp = llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_NONE;  // read into memory: a page has no mmap
    // Lazy reads need mmap; on wasm32 the loader's 4 GiB "large tensor" bound wraps to 0.
    mp.lazy_mode = LLAMA_LAZY_MODE_OFF;
    llama_model * model = llama_model_load_from_file(path, mp);
    if (!model) {
        if (g_error.empty()) g_error = "the file is not a GGUF model llama.cpp can load";
        return nullptr;
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx > 0 ? n_ctx : 2048;
    cp.n_batch = n_batch > 0 ? n_batch : 512;
    cp.n_ubatch = cp.n_batch;
    cp.n_seq_max = 1;
    cp.n_threads = n_threads > 0 ? n_threads : 1;
    cp.n_threads_batch = n_threads_batch > 0 ? n_threads_batch : cp.n_threads;
    cp.embeddings = embeddings != 0;
    if (pooling >= 0) cp.pooling_type = static_cast<enum llama_pooling_type>(pooling);
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        llama_model_free(model);
        if (g_error.empty()) g_error = "could not create a context (n_ctx too large for memory?)";
        return nullptr;
    }
    Session * s = new Session();
    s->model = model;
    s->ctx = ctx;
    // No persistent ggml thread pool: measured in Chromium on 2 cores (2 threads, 6 rounds
    // each), ggml's pool per graph (Emscripten hands it pre-started workers) decoded at
    // 23.9 tok/s, a persistent pool at 23.3 (its threads spin between graphs) and 24.0
    // with spinning off. Not worth the code.
    s->vocab = llama_model_get_vocab(model);
    s->embeddings = embeddings != 0;
    return s;
}

static void sipp_free_impl(Session * s) {
    if (!s) return;
    if (s->sampler) llama_sampler_free(s->sampler);
    llama_free(s->ctx);
    llama_model_free(s->model);
    delete s;
}

EMSCRIPTEN_KEEPALIVE int sipp_n_ctx(Session * s) { return (int) llama_n_ctx(s->ctx); }
EMSCRIPTEN_KEEPALIVE int sipp_n_embd(Session * s) { return llama_model_n_embd(s->model); }
EMSCRIPTEN_KEEPALIVE int sipp_has_encoder(Session * s) { return llama_model_has_encoder(s->model) ? 1 : 0; }

/// The model's tokenizer.chat_template, or "" when it has none.
EMSCRIPTEN_KEEPALIVE const char * sipp_chat_template(Session * s) {
    const char * t = llama_model_chat_template(s->model, nullptr);
    return t ? t : "";
}

/// `n` messages rendered by the model's template with the assistant turn opened.
/// Returns the prompt (owned by the session) or null.
static const char * sipp_render_chat_impl(Session * s, const char ** roles, const char ** contents, int n) {
    const char * tmpl = llama_model_chat_template(s->model, nullptr);
    if (!tmpl) {
        fail("the model has no tokenizer.chat_template");
        return nullptr;
    }
    std::vector<llama_chat_message> chat(n);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        chat[i] = {roles[i], contents[i]};
        total += strlen(contents[i]) + 64;
    }
    s->prompt_buf.assign(total * 2 + 256, '\0');
    int len = llama_chat_apply_template(tmpl, chat.data(), n, true, s->prompt_buf.data(), (int32_t) s->prompt_buf.size());
    if (len < 0) {
        fail("llama.cpp does not support this model's chat template");
        return nullptr;
    }
    if ((size_t) len >= s->prompt_buf.size()) {
        s->prompt_buf.assign(len + 1, '\0');
        llama_chat_apply_template(tmpl, chat.data(), n, true, s->prompt_buf.data(), (int32_t) s->prompt_buf.size());
    }
    s->prompt_buf.resize(len);
    return s->prompt_buf.c_str();
}

/// Start generating from `prompt` (special tokens parsed). Returns the prompt's token
/// count, or -1 (error) or -2 (the prompt does not fit: n_ctx in sipp_last_error).
static int sipp_begin_impl(Session * s, const char * prompt, int max_tokens, float temperature, int top_k,
                           float top_p, float min_p, float repeat_penalty, int repeat_last_n, uint32_t seed) {
    g_error.clear();
    llama_memory_clear(llama_get_memory(s->ctx), true);
    s->n_past = 0;
    if (s->sampler) llama_sampler_free(s->sampler);
    s->sampler = llama_sampler_chain_init(llama_sampler_chain_default_params());
    // The native engine's chain (crates/sipp/src/engine/sampler.rs), stage for stage.
    if (std::fabs(repeat_penalty - 1.0f) > 1e-6f) {
        llama_sampler_chain_add(s->sampler, llama_sampler_init_penalties(llama_vocab_n_tokens(s->vocab), repeat_last_n, repeat_penalty, 0.0f, 0.0f));
    }
    if (temperature <= 0.0f) {
        llama_sampler_chain_add(s->sampler, llama_sampler_init_greedy());
    } else {
        llama_sampler_chain_add(s->sampler, llama_sampler_init_top_k(top_k));
        llama_sampler_chain_add(s->sampler, llama_sampler_init_top_p(top_p, 1));
        llama_sampler_chain_add(s->sampler, llama_sampler_init_min_p(min_p, 1));
        llama_sampler_chain_add(s->sampler, llama_sampler_init_temp(temperature));
        llama_sampler_chain_add(s->sampler, llama_sampler_init_dist(seed));
    }
    std::vector<llama_token> tokens = tokenize(s->vocab, prompt, true);
    if (tokens.empty()) return fail("the prompt is empty after tokenization"), -1;
    const int n_ctx = (int) llama_n_ctx(s->ctx);
    if ((int) tokens.size() >= n_ctx) {
        g_error = std::to_string(tokens.size()) + " prompt tokens do not fit the context window of " +
                  std::to_string(n_ctx) + " tokens";
        return -2;
    }
    s->remaining = std::min(max_tokens > 0 ? max_tokens : n_ctx, n_ctx - (int) tokens.size());
    if (!decode_all(s, tokens, true)) return -1;
    return (int) tokens.size();
}

/// The next token's text: returns its length (the bytes at sipp_piece()), -1 at the end
/// of generation (EOG), -3 when max_tokens or the window is reached, -4 on error.
static int sipp_next_impl(Session * s) {
    if (s->remaining <= 0) return -3;
    llama_token t = llama_sampler_sample(s->sampler, s->ctx, -1);
    if (llama_vocab_is_eog(s->vocab, t)) return -1;
    char buf[256];
    int n = llama_token_to_piece(s->vocab, t, buf, sizeof buf, 0, false);
    s->piece.assign(buf, n > 0 ? n : 0);
    s->remaining--;
    std::vector<llama_token> one{t};
    if (s->remaining > 0 && !decode_all(s, one, true)) return -4;
    return (int) s->piece.size();
}

EMSCRIPTEN_KEEPALIVE const char * sipp_piece(Session * s) { return s->piece.data(); }

/// One pooled embedding of `text` into `out` (n_embd floats), L2-normalized if asked.
/// Returns the token count, -1 on error, -2 when the text does not fit.
static int sipp_embed_impl(Session * s, const char * text, float * out, int normalize) {
    g_error.clear();
    if (!s->embeddings) return fail("the endpoint was not loaded with context.embeddings = true"), -1;
    llama_memory_clear(llama_get_memory(s->ctx), true);
    s->n_past = 0;
    std::vector<llama_token> tokens = tokenize(s->vocab, text, true);
    if ((int) tokens.size() > (int) llama_n_ctx(s->ctx) || (int) tokens.size() > (int) llama_n_batch(s->ctx)) {
        g_error = std::to_string(tokens.size()) + " tokens do not fit one batch of the context window";
        return -2;
    }
    if (!decode_all(s, tokens, false)) return -1;
    const float * e = llama_get_embeddings_seq(s->ctx, 0);
    if (!e) return fail("the model gave no pooled embedding (pooling none?)"), -1;
    const int n = llama_model_n_embd(s->model);
    double norm = 0;
    for (int i = 0; i < n; i++) norm += (double) e[i] * e[i];
    norm = std::sqrt(norm);
    for (int i = 0; i < n; i++) out[i] = normalize && norm > 0 ? (float) (e[i] / norm) : e[i];
    return (int) tokens.size();
}

// What JavaScript calls: the functions above, with no exception let through.

EMSCRIPTEN_KEEPALIVE Session * sipp_load(const char * path, int n_ctx, int n_batch, int n_threads, int n_threads_batch,
                                          int embeddings, int pooling) {
    return guarded<Session *>(nullptr, [&] { return sipp_load_impl(path, n_ctx, n_batch, n_threads, n_threads_batch, embeddings, pooling); });
}

EMSCRIPTEN_KEEPALIVE const char * sipp_render_chat(Session * s, const char ** roles, const char ** contents, int n) {
    return guarded<const char *>(nullptr, [&] { return sipp_render_chat_impl(s, roles, contents, n); });
}

EMSCRIPTEN_KEEPALIVE int sipp_begin(Session * s, const char * prompt, int max_tokens, float temperature, int top_k,
                                    float top_p, float min_p, float repeat_penalty, int repeat_last_n, uint32_t seed) {
    return guarded<int>(-1, [&] { return sipp_begin_impl(s, prompt, max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed); });
}

EMSCRIPTEN_KEEPALIVE int sipp_next(Session * s) {
    return guarded<int>(-4, [&] { return sipp_next_impl(s); });
}

EMSCRIPTEN_KEEPALIVE int sipp_embed(Session * s, const char * text, float * out, int normalize) {
    return guarded<int>(-1, [&] { return sipp_embed_impl(s, text, out, normalize); });
}

EMSCRIPTEN_KEEPALIVE void sipp_free(Session * s) {
    guarded<int>(0, [&] {
        sipp_free_impl(s);
        return 0;
    });
}

}  // extern "C"
