//! Compute backend resolution and the process-wide llama.cpp runtime.
//!
//! llama.cpp may be initialised once per process (a second `LlamaBackend::init` fails),
//! so the handle lives in a `OnceLock` shared by every endpoint.

use crate::error::{Result, SippError};
use crate::types::{compiled_backends, Backend};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{list_llama_ggml_backend_devices, LlamaBackendDeviceType, LogOptions};
use std::sync::OnceLock;

/// Concrete backends in `auto`'s order of preference.
const PREFERENCE: [Backend; 4] = [Backend::Cuda, Backend::Metal, Backend::Vulkan, Backend::Cpu];

/// ggml's registry name for the backend's devices.
fn ggml_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Auto | Backend::Cpu => "CPU",
        Backend::Cuda => "CUDA",
        Backend::Metal => "Metal",
        Backend::Vulkan => "Vulkan",
    }
}

pub(crate) fn compiled_names() -> Vec<String> {
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
            || list_llama_ggml_backend_devices()
                .iter()
                .any(|d| d.backend.eq_ignore_ascii_case(ggml_name(b)) && d.device_type != LlamaBackendDeviceType::Cpu)
    };
    match requested {
        Backend::Auto => Ok(PREFERENCE.into_iter().find(|b| b.is_compiled() && has_device(*b)).unwrap_or(Backend::Cpu)),
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
    fn uncompiled_backend_names_what_is_available() {
        if Backend::Vulkan.is_compiled() {
            return;
        }
        let err = resolve_backend(Backend::Vulkan).unwrap_err();
        assert_eq!(err.code(), "backend_unavailable");
        assert!(err.to_string().contains("cpu"), "{err}");
    }
}
