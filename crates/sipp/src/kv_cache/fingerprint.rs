//! What names a model file and the llama.cpp build for persisted snapshots and
//! transcoded weights.
//!
//! A model is named by the SHA-256 of its whole content. A hash of the first megabytes
//! is not enough: two fine-tunes of one base model, quantized alike, have the same size
//! and the same metadata and tensor layout up front (for a large vocabulary the first
//! 4 MiB can be metadata only), and would restore each other's KV — a silent wrong
//! answer. Hashing gigabytes on every load would be slow, so the digest is cached by
//! canonical path, size and modification time under `$XDG_CACHE_HOME/sipp/fingerprints`
//! (or `~/.cache/...`); without a cache directory it is computed each time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The `llama-cpp-2` / `llama-cpp-sys-2` release this crate is built against (pinned
/// exactly in the workspace manifest; a test holds this to `Cargo.lock`).
pub(crate) const LLAMA_CPP_VERSION: &str = "0.1.160";

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Length and SHA-256 (hex) of a file's whole content.
pub(crate) fn file_sha256(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex(&hasher.finalize())))
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Cached {
    path: PathBuf,
    size: u64,
    modified_ns: u128,
    sha256: String,
}

/// `$XDG_CACHE_HOME/sipp/<name>`, else `~/.cache/sipp/<name>`.
pub(crate) fn user_cache_dir(name: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sipp").join(name))
}

/// A model file's size and the SHA-256 (hex) of its whole content.
pub(crate) fn model_fingerprint(model: &Path) -> std::io::Result<(u64, String)> {
    model_fingerprint_in(model, user_cache_dir("fingerprints").as_deref())
}

fn model_fingerprint_in(model: &Path, cache: Option<&Path>) -> std::io::Result<(u64, String)> {
    let path = fs::canonicalize(model)?;
    let meta = fs::metadata(&path)?;
    let modified_ns = meta.modified()?.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let size = meta.len();
    let entry =
        cache.map(|dir| dir.join(format!("{}.json", hex(&Sha256::digest(path.as_os_str().as_encoded_bytes())[..16]))));
    if let Some(entry) = &entry {
        let hit = fs::read(entry).ok().and_then(|b| serde_json::from_slice::<Cached>(&b).ok());
        if let Some(c) = hit.filter(|c| c.path == path && c.size == size && c.modified_ns == modified_ns) {
            return Ok((size, c.sha256));
        }
    }
    let (len, sha256) = file_sha256(&path)?;
    if let Some(entry) = entry {
        // A cache that cannot be written only costs the next load a rehash.
        let cached = Cached { path, size: len, modified_ns, sha256: sha256.clone() };
        let tmp = entry.with_extension(format!("json.{}.tmp", std::process::id()));
        let written = entry
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&tmp, serde_json::to_vec(&cached).map_err(std::io::Error::other)?))
            .and_then(|()| fs::rename(&tmp, &entry));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
    Ok((len, sha256))
}

/// The llama.cpp build that computes KV cells: its release and the SIMD features ggml
/// was compiled with (llama-cpp-sys-2 derives them from the Rust target features, so
/// `cfg!` here sees what ggml sees). Another build can lay out or round cells otherwise.
pub(crate) fn llama_build() -> String {
    let features: Vec<&str> = [
        ("sse4.2", cfg!(target_feature = "sse4.2")),
        ("avx", cfg!(target_feature = "avx")),
        ("avx2", cfg!(target_feature = "avx2")),
        ("fma", cfg!(target_feature = "fma")),
        ("f16c", cfg!(target_feature = "f16c")),
        ("avxvnni", cfg!(target_feature = "avxvnni")),
        ("avx512f", cfg!(target_feature = "avx512f")),
        ("avx512bw", cfg!(target_feature = "avx512bw")),
        ("avx512vnni", cfg!(target_feature = "avx512vnni")),
        ("avx512bf16", cfg!(target_feature = "avx512bf16")),
        ("neon", cfg!(target_feature = "neon")),
        ("dotprod", cfg!(target_feature = "dotprod")),
        ("i8mm", cfg!(target_feature = "i8mm")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    format!("llama-cpp-sys-2 {LLAMA_CPP_VERSION} {} [{}]", std::env::consts::ARCH, features.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two files of one size whose first 4 MiB agree (as two fine-tunes' GGUF headers
    /// can) must not share a fingerprint.
    #[test]
    fn files_that_differ_only_past_their_first_megabytes_are_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = vec![7u8; 5 << 20];
        let a = tmp.path().join("a.gguf");
        fs::write(&a, &bytes).unwrap();
        bytes[(4 << 20) + 123] = 8;
        let b = tmp.path().join("b.gguf");
        fs::write(&b, &bytes).unwrap();
        let cache = tmp.path().join("cache");
        let fa = model_fingerprint_in(&a, Some(&cache)).unwrap();
        let fb = model_fingerprint_in(&b, Some(&cache)).unwrap();
        assert_eq!(fa.0, fb.0);
        assert_ne!(fa.1, fb.1);
        assert_eq!(fa.1, file_sha256(&a).unwrap().1);
    }

    #[test]
    fn the_digest_is_cached_by_path_size_and_mtime() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let model = tmp.path().join("m.gguf");
        fs::write(&model, b"first weights").unwrap();
        let first = model_fingerprint_in(&model, Some(&cache)).unwrap();
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
        // A forged cache entry is believed while path, size and mtime match...
        let entry = fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
        let mut c: Cached = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
        c.sha256 = "cached".into();
        fs::write(&entry, serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(model_fingerprint_in(&model, Some(&cache)).unwrap().1, "cached");
        // ...and a rewritten file (same size, new mtime) is hashed again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&model, b"other weights").unwrap();
        let second = model_fingerprint_in(&model, Some(&cache)).unwrap();
        assert_ne!(second.1, "cached");
        assert_ne!(second.1, first.1);
        assert_eq!(model_fingerprint_in(&model, None).unwrap(), second);
    }

    #[test]
    fn the_version_constant_is_the_locked_one() {
        let lock = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock")).unwrap();
        let locked = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"llama-cpp-sys-2\""))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"'));
        assert_eq!(locked, Some(LLAMA_CPP_VERSION));
        assert!(llama_build().contains(LLAMA_CPP_VERSION));
    }
}
