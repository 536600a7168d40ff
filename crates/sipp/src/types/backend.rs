//! Which compute backend a local endpoint runs on: the selector descriptors carry.

use crate::error::{Result, SippError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Backend selector for a local endpoint (`auto` picks the best compiled one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
    out.extend([Backend::Cuda, Backend::Metal, Backend::Vulkan].into_iter().filter(|b| b.is_compiled()));
    out
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
}
