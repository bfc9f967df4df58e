//! Nothing here: the checks are in `tests/clap_host.rs`, which loads the bundled
//! `target/bundled/crn_denoise.clap` (build it with `cargo xtask bundle crn_denoise --release`).
