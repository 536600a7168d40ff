//! `residency`: GPU model residency across every local endpoint of the process. A model
//! whose layers go to a GPU device holds a lease on that device for as long as it is
//! loaded; a CPU model holds a CPU record. Before a model loads, its placement is checked
//! against the leases held and the policies of everyone involved:
//! - `max_gpu_models_per_device`: at most this many GPU models on one device (the new
//!   model's limit, and every holder's on that device);
//! - `allow_cpu_models_while_gpu_loaded = false`: no CPU model next to a GPU model (a
//!   CPU load is refused while GPU leases exist, a GPU load while CPU models exist, when
//!   either side asked for it);
//! - `require_gpu_lease = true`: the model must land on a GPU, or not load at all.
//!
//! On a build or host without a GPU backend every model is a CPU model: no lease is ever
//! taken, `require_gpu_lease` refuses the load, and the other two have nothing to limit.
//! Leases are process-wide because the devices are: two clients share one GPU.

use crate::error::{Result, SippError};
use crate::types::{Backend, ResidencyRuntimeConfig};
use std::sync::Mutex;

/// Where one loaded model sits and the policy it was loaded with.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    id: u64,
    /// `cuda:0`-style device key; `None` for a CPU model.
    device: Option<String>,
    policy: ResidencyRuntimeConfig,
}

#[derive(Debug, Default)]
struct Registry {
    records: Vec<Record>,
    next_id: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { records: Vec::new(), next_id: 0 });

impl Registry {
    /// Whether a model with `policy` may load on `device` next to the current records.
    fn admit(&self, device: Option<&str>, policy: &ResidencyRuntimeConfig) -> Result<()> {
        let forbids_mix = |p: &ResidencyRuntimeConfig| p.allow_cpu_models_while_gpu_loaded == Some(false);
        // A CPU model next to GPU models, or the other way round: refused when the
        // newcomer or any loaded model asked for no mix.
        let mix_forbidden = forbids_mix(policy) || self.records.iter().any(|r| forbids_mix(&r.policy));
        let Some(device) = device else {
            if policy.require_gpu_lease == Some(true) {
                return Err(SippError::BackendUnavailable {
                    requested: "a GPU lease (residency.require_gpu_lease)".into(),
                    reason: "this endpoint runs on cpu: no GPU backend is active for it".into(),
                    available: super::backend::compiled_names(),
                });
            }
            if let Some(gpu) = self.records.iter().find_map(|r| r.device.as_deref()).filter(|_| mix_forbidden) {
                return Err(SippError::Overloaded(format!(
                    "a GPU model is loaded on {gpu} and residency.allow_cpu_models_while_gpu_loaded is false"
                )));
            }
            return Ok(());
        };
        let holders: Vec<&Record> = self.records.iter().filter(|r| r.device.as_deref() == Some(device)).collect();
        let on_device = holders.len();
        let limits = holders.iter().filter_map(|r| r.policy.max_gpu_models_per_device);
        let limit = policy.max_gpu_models_per_device.into_iter().chain(limits).min();
        if let Some(limit) = limit.filter(|l| on_device >= *l as usize) {
            return Err(SippError::Overloaded(format!(
                "{device} already holds {on_device} model(s); residency.max_gpu_models_per_device = {limit}"
            )));
        }
        let cpu_models = self.records.iter().filter(|r| r.device.is_none()).count();
        if cpu_models > 0 && mix_forbidden {
            return Err(SippError::Overloaded(format!(
                "{cpu_models} CPU model(s) are loaded and residency.allow_cpu_models_while_gpu_loaded is false"
            )));
        }
        Ok(())
    }

    fn insert(&mut self, device: Option<String>, policy: ResidencyRuntimeConfig) -> u64 {
        self.next_id += 1;
        self.records.push(Record { id: self.next_id, device, policy });
        self.next_id
    }
}

/// A loaded model's place in the registry; dropping it (the endpoint's owner thread
/// ending) releases the device.
#[derive(Debug)]
pub(crate) struct Lease {
    id: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut registry) = REGISTRY.lock() {
            registry.records.retain(|r| r.id != self.id);
        }
    }
}

/// The device a load with this placement lands on: none for CPU or zero GPU layers.
pub(crate) fn device_of(backend: Backend, gpu_layers: u32, main_gpu: Option<i32>) -> Option<String> {
    (backend != Backend::Cpu && backend != Backend::Auto && gpu_layers > 0)
        .then(|| format!("{}:{}", backend.as_str(), main_gpu.unwrap_or(0)))
}

/// Check and record a model about to load on `device` (see the module docs).
pub(crate) fn acquire(policy: &ResidencyRuntimeConfig, device: Option<String>) -> Result<Lease> {
    let mut registry = REGISTRY.lock().map_err(|_| SippError::Execution("residency registry poisoned".into()))?;
    registry.admit(device.as_deref(), policy)?;
    Ok(Lease { id: registry.insert(device, policy.clone()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: Option<u32>, allow_cpu: Option<bool>, require: Option<bool>) -> ResidencyRuntimeConfig {
        ResidencyRuntimeConfig {
            max_gpu_models_per_device: max,
            allow_cpu_models_while_gpu_loaded: allow_cpu,
            require_gpu_lease: require,
        }
    }

    #[test]
    fn device_limit_counts_models_on_that_device_only() {
        let mut r = Registry::default();
        let one = policy(Some(1), None, None);
        r.admit(Some("cuda:0"), &one).unwrap();
        r.insert(Some("cuda:0".into()), one.clone());
        let e = r.admit(Some("cuda:0"), &policy(None, None, None)).unwrap_err();
        assert_eq!(e.code(), "overloaded", "the holder's limit binds newcomers too");
        assert!(e.to_string().contains("cuda:0 already holds 1"), "{e}");
        r.admit(Some("cuda:1"), &one).unwrap();
    }

    #[test]
    fn cpu_models_next_to_gpu_models_when_nobody_forbids_it() {
        let mut r = Registry::default();
        r.insert(Some("cuda:0".into()), policy(None, None, None));
        r.admit(None, &policy(None, None, None)).unwrap();
        assert_eq!(r.admit(None, &policy(None, Some(false), None)).unwrap_err().code(), "overloaded");
        r.insert(Some("cuda:0".into()), policy(None, Some(false), None));
        assert_eq!(r.admit(None, &policy(None, None, None)).unwrap_err().code(), "overloaded");
    }

    #[test]
    fn a_gpu_model_that_forbids_cpu_models_does_not_load_next_to_one() {
        let mut r = Registry::default();
        r.insert(None, policy(None, None, None));
        r.admit(Some("cuda:0"), &policy(None, None, None)).unwrap();
        assert_eq!(r.admit(Some("cuda:0"), &policy(None, Some(false), None)).unwrap_err().code(), "overloaded");
    }

    #[test]
    fn require_gpu_lease_refuses_a_cpu_placement() {
        let r = Registry::default();
        let e = r.admit(None, &policy(None, None, Some(true))).unwrap_err();
        assert_eq!(e.code(), "backend_unavailable");
        r.admit(Some("cuda:0"), &policy(None, None, Some(true))).unwrap();
    }

    #[test]
    fn placement_decides_the_device() {
        assert_eq!(device_of(Backend::Cpu, 0, None), None);
        assert_eq!(device_of(Backend::Cuda, 0, None), None, "no layers on the GPU: a CPU model");
        assert_eq!(device_of(Backend::Cuda, 99, Some(1)).as_deref(), Some("cuda:1"));
    }

    #[test]
    fn a_lease_is_released_when_dropped() {
        let gpu = Some("vulkan:7".to_string());
        let lease = acquire(&policy(Some(1), None, None), gpu.clone()).unwrap();
        assert!(acquire(&policy(Some(1), None, None), gpu.clone()).is_err());
        drop(lease);
        drop(acquire(&policy(Some(1), None, None), gpu).unwrap());
    }
}
