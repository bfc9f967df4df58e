//! The audio path of crn-denoise, free of any plugin framework: the STFT at the host rate, the
//! CRN through ONNX Runtime on a worker thread, gains, the latency-aligned dry path and mix, and
//! the offline render. The plugin (the `crn_denoise` crate) and the CLI (`crn-cli`) both run
//! exactly this code.

pub mod bands;
mod budget;
pub mod denormals;
mod doorbell;
pub mod engine;
pub mod inference;
pub mod meter;
pub mod model;
pub mod render;
pub mod stft;
pub mod worker;

/// Hooks for this crate's tests (feature `test-hooks`): not part of the production API.
#[cfg(feature = "test-hooks")]
pub mod test_hooks {
    pub use crate::worker::fail_next_spawn as fail_next_worker_spawn;
}
