//! Snapshots on disk (`cache.snapshot_dir`), so a prefix cache survives a restart.
//!
//! Each snapshot is two files: `<name>.kv`, llama.cpp's own sequence-state file (tokens
//! and cells, whose loader checks its format and the context's shape), and `<name>.json`,
//! written last as the commit marker: format, Sipp version, the model's identity, the
//! context shape, and the `.kv` file's length and SHA-256. A file whose marker is missing,
//! names another model or shape, or whose bytes do not hash to the marker's is skipped
//! with a warning and never handed to llama.cpp. Writes go to temporary names and are
//! renamed into place, so a crash leaves no half file under a real name.

use super::fingerprint::{file_sha256, hex, llama_build, model_fingerprint};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

/// 2: the model is named by its whole content, the llama.cpp build and KV cell types
/// are recorded.
const FORMAT: u32 = 2;

/// What a persisted state must match to be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub model_bytes: u64,
    /// SHA-256 of the whole model file, hex (`fingerprint::model_fingerprint`).
    pub model_sha256: String,
    /// llama.cpp release and compiled CPU features (`fingerprint::llama_build`).
    pub llama_build: String,
    /// The context shape the cells were computed in, and their K/V element types.
    pub n_ctx_seq: u32,
    pub kv_unified: bool,
    pub kv_types: String,
}

impl Identity {
    pub(crate) fn of(model: &Path, n_ctx_seq: u32, kv_unified: bool, kv_types: &str) -> std::io::Result<Self> {
        let (model_bytes, model_sha256) = model_fingerprint(model)?;
        Ok(Self {
            model_bytes,
            model_sha256,
            llama_build: llama_build(),
            n_ctx_seq,
            kv_unified,
            kv_types: kv_types.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    format: u32,
    sipp_version: String,
    identity: Identity,
    tokens: usize,
    kv_bytes: u64,
    kv_sha256: String,
}

/// A snapshot on disk that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Persisted {
    pub kv_path: PathBuf,
    pub tokens: usize,
    pub bytes: u64,
}

/// One snapshot directory for one model and context shape.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotDir {
    dir: PathBuf,
    identity: Identity,
    max_entries: usize,
    max_bytes: u64,
}

impl SnapshotDir {
    pub(crate) fn open(dir: &Path, identity: Identity, max_entries: usize, max_bytes: u64) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self { dir: dir.to_path_buf(), identity, max_entries, max_bytes })
    }

    /// Where llama.cpp should write the state of `tokens` first (a temporary name), and
    /// the name it will have.
    pub(crate) fn staging(&self, tokens: &[i32]) -> (PathBuf, String) {
        let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
        let name = hex(&Sha256::digest(bytes)[..12]);
        (self.dir.join(format!("{name}.kv.tmp")), name)
    }

    /// Seal a state llama.cpp wrote to `staged`: hash it, move it into place, write the
    /// marker (last), then drop the oldest snapshots beyond the limits.
    pub(crate) fn commit(&self, staged: &Path, name: &str, tokens: usize) -> std::io::Result<()> {
        let (kv_bytes, kv_sha256) = file_sha256(staged)?;
        let kv = self.dir.join(format!("{name}.kv"));
        fs::rename(staged, &kv)?;
        let marker = Marker {
            format: FORMAT,
            sipp_version: env!("CARGO_PKG_VERSION").to_string(),
            identity: self.identity.clone(),
            tokens,
            kv_bytes,
            kv_sha256,
        };
        let json = self.dir.join(format!("{name}.json"));
        let tmp = self.dir.join(format!("{name}.json.tmp"));
        fs::write(&tmp, serde_json::to_vec_pretty(&marker).map_err(std::io::Error::other)?)?;
        fs::rename(&tmp, &json)?;
        self.enforce_limits();
        Ok(())
    }

    /// Snapshots that may be loaded, newest first, within the limits; the reasons the
    /// others were skipped (also logged).
    pub(crate) fn loadable(&self) -> (Vec<Persisted>, Vec<String>) {
        let mut ok = Vec::new();
        let mut skipped = Vec::new();
        for (json, modified) in self.markers() {
            match self.check(&json) {
                Ok(p) => ok.push((p, modified)),
                Err(why) => {
                    tracing::warn!(file = %json.display(), reason = %why, "KV snapshot skipped");
                    skipped.push(format!("{}: {why}", json.display()));
                }
            }
        }
        ok.sort_by_key(|p| std::cmp::Reverse(p.1));
        let mut total = 0u64;
        let kept = ok
            .into_iter()
            .map(|(p, _)| p)
            .take(self.max_entries)
            .take_while(|p| {
                total += p.bytes;
                total <= self.max_bytes
            })
            .collect();
        (kept, skipped)
    }

    fn check(&self, json: &Path) -> Result<Persisted, String> {
        let text = fs::read(json).map_err(|e| format!("unreadable marker: {e}"))?;
        let m: Marker = serde_json::from_slice(&text).map_err(|e| format!("not a snapshot marker: {e}"))?;
        if m.format != FORMAT {
            return Err(format!("format {} (this build reads {FORMAT})", m.format));
        }
        if m.identity != self.identity {
            let i = &m.identity;
            let what = if i.model_bytes != self.identity.model_bytes || i.model_sha256 != self.identity.model_sha256 {
                "another model"
            } else if i.llama_build != self.identity.llama_build {
                "another llama.cpp build"
            } else {
                "another context shape or KV type"
            };
            return Err(format!("written for {what}"));
        }
        let kv_path = json.with_extension("kv");
        let (len, sha) = file_sha256(&kv_path).map_err(|e| format!("state file: {e}"))?;
        if len != m.kv_bytes || sha != m.kv_sha256 {
            return Err(format!(
                "state file is truncated or corrupt ({len} of {} bytes, or its hash differs)",
                m.kv_bytes
            ));
        }
        Ok(Persisted { kv_path, tokens: m.tokens, bytes: len })
    }

    /// Markers with their modification times.
    fn markers(&self) -> Vec<(PathBuf, std::time::SystemTime)> {
        let Ok(entries) = fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| {
                let modified = fs::metadata(&p).and_then(|m| m.modified()).ok()?;
                Some((p, modified))
            })
            .collect()
    }

    /// Oldest snapshots go first until the rest fit the entry and byte limits.
    fn enforce_limits(&self) {
        let mut all = self.markers();
        all.sort_by_key(|m| std::cmp::Reverse(m.1));
        let mut total = 0u64;
        for (i, (json, _)) in all.iter().enumerate() {
            let kv = json.with_extension("kv");
            total += fs::metadata(&kv).map_or(0, |m| m.len());
            if i >= self.max_entries || total > self.max_bytes {
                let _ = fs::remove_file(json);
                let _ = fs::remove_file(&kv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            model_bytes: 10,
            model_sha256: "ab".into(),
            llama_build: llama_build(),
            n_ctx_seq: 1024,
            kv_unified: false,
            kv_types: "f16/bf16".into(),
        }
    }

    fn write(dir: &SnapshotDir, tokens: &[i32], body: &[u8]) -> PathBuf {
        let (staged, name) = dir.staging(tokens);
        fs::write(&staged, body).unwrap();
        dir.commit(&staged, &name, tokens.len()).unwrap();
        dir.dir.join(format!("{name}.kv"))
    }

    #[test]
    fn committed_snapshots_load_and_damaged_ones_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SnapshotDir::open(tmp.path(), identity(), 8, 1 << 20).unwrap();
        let good = write(&dir, &[1, 2, 3], b"state-one");
        let truncated = write(&dir, &[4, 5, 6], b"state-two");
        let corrupt = write(&dir, &[7, 8, 9], b"state-three");
        fs::write(&truncated, b"state").unwrap();
        fs::write(&corrupt, b"STATE-three").unwrap();
        // A marker for another model.
        let other = SnapshotDir::open(tmp.path(), Identity { model_bytes: 11, ..identity() }, 8, 1 << 20).unwrap();
        write(&other, &[10, 11], b"other-model");
        // Markers of another llama.cpp build and another KV type.
        let build = Identity { llama_build: "llama-cpp-sys-2 0.0.1 x86_64 [avx512f]".into(), ..identity() };
        write(&SnapshotDir::open(tmp.path(), build, 8, 1 << 20).unwrap(), &[12], b"other-build");
        let types = Identity { kv_types: "f16/f16".into(), ..identity() };
        write(&SnapshotDir::open(tmp.path(), types, 8, 1 << 20).unwrap(), &[13], b"other-types");
        // A crash before the marker: nothing to load, nothing to skip.
        fs::write(tmp.path().join("dead.kv.tmp"), b"partial").unwrap();
        let (ok, skipped) = dir.loadable();
        assert_eq!(ok, vec![Persisted { kv_path: good, tokens: 3, bytes: 9 }]);
        assert_eq!(skipped.len(), 5, "{skipped:?}");
        assert!(skipped.iter().any(|s| s.contains("another llama.cpp build")), "{skipped:?}");
        assert!(skipped.iter().any(|s| s.contains("another context shape or KV type")), "{skipped:?}");
        assert_eq!(skipped.iter().filter(|s| s.contains("truncated or corrupt")).count(), 2);
        assert!(skipped.iter().any(|s| s.contains("another model")));
    }

    #[test]
    fn limits_drop_the_oldest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SnapshotDir::open(tmp.path(), identity(), 2, 1 << 20).unwrap();
        for t in 0..3 {
            write(&dir, &[t], b"0123456789");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (ok, _) = dir.loadable();
        assert_eq!(ok.len(), 2);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 4, "two snapshots, two files each");
        let small = SnapshotDir::open(tmp.path(), identity(), 8, 15).unwrap();
        write(&small, &[9], b"0123456789");
        assert_eq!(small.loadable().0.len(), 1, "15 bytes hold one 10-byte state");
    }
}
