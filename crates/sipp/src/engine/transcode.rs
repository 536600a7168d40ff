//! `placement.transcode_weights = "q8_0"`: load a Q4_0/Q4_1/Q5_0/Q5_1 model with its
//! weights re-encoded as Q8_0, once, into a cache file.
//!
//! Why: on x86 CPUs ggml has no matrix-matrix kernel for these formats; every batched
//! token multiplies every weight block through a one-row-by-one-column dot product, so a
//! decode step with 8 sequences costs ~4.5x a step with one. Q8_0 has one (llamafile's
//! tinyBLAS and ggml's repacked GEMMs): measured on a 2-core AVX-512 VM with SmolLM2-135M
//! Q4_1, llama.cpp's own batched bench goes from 206 to 295 tok/s at 8 sequences, 106 to
//! 133 tok/s single-stream, and prompt processing from 318 to 778 tok/s.
//!
//! The cost: the file is up to ~1.7x larger (1.47x for SmolLM2, whose embeddings are
//! Q8_0 already), and Q8_0 re-encodes each 4/5-bit block with a 255-level grid over the
//! block's range, so weights move by at most 1/254 of that range (against the 1/15–1/31
//! steps of the source format): near-lossless, not bit-exact — greedy text can differ
//! from the original file's on some prompts. Hence opt-in.

use super::backend::llama;
use super::gguf;
use crate::error::{Result, SippError};
use crate::kv_cache::{model_fingerprint, user_cache_dir};
use crate::types::{PlacementRuntimeConfig, WeightFormat};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// ggml types whose matrix products have no batched kernel on CPU (Q4_0, Q4_1, Q5_0, Q5_1).
const TRANSCODED_FROM: [u32; 4] = [2, 3, 6, 7];

/// The file to load: `path` itself, or its transcoded copy (made now if missing).
pub(crate) fn prepare(path: &Path, placement: &PlacementRuntimeConfig) -> Result<PathBuf> {
    let Some(WeightFormat::Q8_0) = placement.transcode_weights else { return Ok(path.to_path_buf()) };
    let weight_type = gguf::read_header(path).ok().and_then(|h| h.ok()).and_then(|h| h.weight_type);
    if !weight_type.is_some_and(|t| TRANSCODED_FROM.contains(&t)) {
        // Already Q8_0, a K-quant (which has batched kernels) or a float format: as is.
        tracing::info!(model = %path.display(), ?weight_type, "placement.transcode_weights: nothing to transcode");
        return Ok(path.to_path_buf());
    }
    let dir = cache_dir(placement)?;
    let target = dir.join(cache_name(path).map_err(|e| refuse(path, &e.to_string()))?);
    if target.is_file() {
        return Ok(target);
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| SippError::InvalidConfig(format!("placement.transcode_dir {}: {e}", dir.display())))?;
    let staged = dir.join(format!(
        ".{}.{}.partial",
        std::process::id(),
        target.file_name().unwrap_or_default().to_string_lossy()
    ));
    let started = std::time::Instant::now();
    let outcome = quantize(path, &staged)
        .and_then(|()| std::fs::rename(&staged, &target).map_err(|e| refuse(path, &e.to_string())));
    if outcome.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    outcome?;
    tracing::info!(model = %path.display(), to = %target.display(), ms = started.elapsed().as_millis() as u64, "transcoded weights to Q8_0");
    Ok(target)
}

fn refuse(path: &Path, reason: &str) -> SippError {
    SippError::ModelLoad {
        path: path.to_path_buf(),
        reason: format!("transcoding the weights to Q8_0 failed: {reason}"),
    }
}

/// `placement.transcode_dir`, else `$XDG_CACHE_HOME/sipp/weights`, else `~/.cache/sipp/weights`.
fn cache_dir(placement: &PlacementRuntimeConfig) -> Result<PathBuf> {
    if let Some(dir) = &placement.transcode_dir {
        return Ok(dir.clone());
    }
    user_cache_dir("weights").ok_or_else(|| {
        SippError::InvalidConfig(
            "placement.transcode_weights needs placement.transcode_dir: no HOME or XDG_CACHE_HOME".into(),
        )
    })
}

/// `<stem>-<size>-<sha256 of the whole file, 16 hex>.q8_0.gguf`: a changed source gets a new file.
fn cache_name(path: &Path) -> std::io::Result<String> {
    let (size, digest) = model_fingerprint(path)?;
    let digest = &digest[..16];
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    Ok(format!("{stem}-{size}-{digest}.q8_0.gguf"))
}

// The one FFI call of the core crate: llama-cpp-2 does not wrap llama.cpp's quantizer.
#[allow(unsafe_code)]
fn quantize(from: &Path, to: &Path) -> Result<()> {
    llama()?;
    let c_path =
        |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| refuse(from, "a path holds a NUL byte"));
    let (input, output) = (c_path(from)?, c_path(to)?);
    // SAFETY: plain-data parameters from llama.cpp's own defaults; both paths are valid
    // NUL-terminated strings that outlive the call. llama.cpp catches its exceptions
    // inside `llama_model_quantize` and reports them as a non-zero return.
    let rc = unsafe {
        let mut params = llama_cpp_sys_2::llama_model_quantize_default_params();
        params.ftype = llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q8_0;
        params.allow_requantize = true;
        params.nthread = std::thread::available_parallelism().map_or(1, |n| n.get() as i32);
        llama_cpp_sys_2::llama_model_quantize(input.as_ptr(), output.as_ptr(), &params)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(refuse(from, &format!("llama.cpp returned {rc} (see the log)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_name_follows_the_source_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("m.gguf");
        std::fs::write(&a, b"one").unwrap();
        let first = cache_name(&a).unwrap();
        assert!(first.starts_with("m-3-") && first.ends_with(".q8_0.gguf"), "{first}");
        std::fs::write(&a, b"two").unwrap();
        assert_ne!(cache_name(&a).unwrap(), first);
    }

    #[test]
    fn other_formats_load_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let f32_model = dir.path().join("f32.gguf");
        std::fs::write(&f32_model, gguf::tests::tiny_of("llama", 64)).unwrap();
        let placement = PlacementRuntimeConfig {
            transcode_weights: Some(WeightFormat::Q8_0),
            transcode_dir: Some(dir.path().join("cache")),
            ..Default::default()
        };
        assert_eq!(prepare(&f32_model, &placement).unwrap(), f32_model);
        assert!(!dir.path().join("cache").exists(), "nothing written");
        assert_eq!(prepare(&f32_model, &PlacementRuntimeConfig::default()).unwrap(), f32_model);
    }
}
