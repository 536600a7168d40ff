//! Compute backend selection and the process-wide llama.cpp runtime.
//!
//! llama.cpp may be initialised once per process (a second `LlamaBackend::init` fails),
//! so the handle lives in a `OnceLock` shared by every endpoint.

use crate::error::{Result, SippError};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{list_llama_ggml_backend_devices, LlamaBackendDeviceType, LogOptions};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Backend selector for a local endpoint (`auto` picks the best compiled one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
    Vulkan,
}

impl Backend {
    /// Concrete backends in `auto`'s order of preference.
    const PREFERENCE: [Backend; 4] = [Backend::Cuda, Backend::Metal, Backend::Vulkan, Backend::Cpu];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Metal => "metal",
            Self::Vulkan => "vulkan",
        }
    }

    /// Whether this build linked the backend in (cargo features of `sipp-rs`).
    #[must_use]
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Auto | Self::Cpu => true,
            Self::Cuda => cfg!(feature = "cuda"),
            Self::Metal => cfg!(feature = "metal"),
            Self::Vulkan => cfg!(feature = "vulkan"),
        }
    }

    /// ggml's registry name for the backend's devices.
    fn ggml_name(self) -> &'static str {
        match self {
            Self::Auto | Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::Metal => "Metal",
            Self::Vulkan => "Vulkan",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = SippError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "metal" => Ok(Self::Metal),
            "vulkan" => Ok(Self::Vulkan),
            other => Err(SippError::InvalidConfig(format!(
                "unknown backend `{other}` (expected auto, cpu, cuda, metal or vulkan)"
            ))),
        }
    }
}

/// Backends compiled into this build, `cpu` first.
#[must_use]
pub fn compiled_backends() -> Vec<Backend> {
    let mut out = vec![Backend::Cpu];
    out.extend(
        [Backend::Cuda, Backend::Metal, Backend::Vulkan]
            .into_iter()
            .filter(|b| b.is_compiled()),
    );
    out
}

fn compiled_names() -> Vec<String> {
    compiled_backends().iter().map(|b| b.to_string()).collect()
}

/// The process-wide llama.cpp handle; llama.cpp's logs go to `tracing`, never stdout.
/// Public for tools that drive llama-cpp-2 next to Sipp in one process.
pub fn llama() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| SippError::Execution(format!("llama.cpp backend init failed: {e}")))
}

/// Resolve `auto` and check that an explicit choice is compiled in and has a device.
pub fn resolve_backend(requested: Backend) -> Result<Backend> {
    llama()?;
    let has_device = |b: Backend| {
        b == Backend::Cpu
            || list_llama_ggml_backend_devices().iter().any(|d| {
                d.backend.eq_ignore_ascii_case(b.ggml_name())
                    && d.device_type != LlamaBackendDeviceType::Cpu
            })
    };
    match requested {
        Backend::Auto => Ok(Backend::PREFERENCE
            .into_iter()
            .find(|b| b.is_compiled() && has_device(*b))
            .unwrap_or(Backend::Cpu)),
        b if !b.is_compiled() => Err(SippError::BackendUnavailable {
            requested: b.to_string(),
            reason: format!("this build was compiled without the `{b}` feature"),
            available: compiled_names(),
        }),
        b if !has_device(b) => Err(SippError::BackendUnavailable {
            requested: b.to_string(),
            reason: "compiled in, but no device of that kind was found on this host".into(),
            available: compiled_names(),
        }),
        b => Ok(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("CPU".parse::<Backend>().unwrap(), Backend::Cpu);
        assert_eq!(" auto ".parse::<Backend>().unwrap(), Backend::Auto);
        assert_eq!("tpu".parse::<Backend>().unwrap_err().code(), "invalid_config");
    }

    #[test]
    fn cpu_is_always_compiled_and_listed_first() {
        assert_eq!(compiled_backends()[0], Backend::Cpu);
    }

    #[test]
    fn uncompiled_backend_names_what_is_available() {
        if Backend::Vulkan.is_compiled() {
            return;
        }
        let err = resolve_backend(Backend::Vulkan).unwrap_err();
        assert_eq!(err.code(), "backend_unavailable");
        assert!(err.to_string().contains("cpu"), "{err}");
    }
}
