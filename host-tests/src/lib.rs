//! Nothing here: the checks are in `tests/`. `clap_host.rs` loads the bundled
//! `target/bundled/crn_denoise.clap` in clack-host; `vst3_params.rs` and `vst3_teardown.rs` load
//! `target/bundled/crn_denoise.vst3` in a minimal VST3 host of our own (`tests/common/vst3.rs`).
//! Build the bundles first with `cargo xtask bundle crn_denoise --release`.
