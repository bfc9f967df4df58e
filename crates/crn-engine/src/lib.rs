//! The audio path of crn-denoise, free of any plugin framework: the STFT at the host rate, the
//! CRN through ONNX Runtime on a worker thread, gains, the latency-aligned dry path and mix, and
//! the offline render. The plugin (the `crn_denoise` crate) and the CLI (`crn-cli`) both run
//! exactly this code.
//!
//! The public interface is [`engine`] (the engine, its configuration and settings), [`meter`]
//! (what it shows an editor), [`model`], [`render`] (offline), [`stft`] (frame geometry) and
//! [`denormals`]; the stages behind `Engine::process` are private modules, one job each.

mod bands;
mod bound;
mod budget;
mod config;
mod controls;
pub mod denormals;
mod doorbell;
pub mod engine;
mod handoff;
mod inference;
mod inline;
pub mod meter;
mod mixer;
pub mod model;
pub mod render;
pub mod stft;
mod worker;

/// Hooks for this crate's tests (feature `test-hooks`): not part of the production API.
#[cfg(feature = "test-hooks")]
pub mod test_hooks {
    pub use crate::worker::fail_next_spawn as fail_next_worker_spawn;
}
