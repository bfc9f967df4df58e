//! The LADSPA library and the LV2 bundle (crates/crn-ladspa, crates/crn-lv2), built with cargo
//! and laid out in target/bundled next to the CLAP and VST3 bundles. nice-plug's bundler only
//! knows CLAP and VST3.

use std::path::Path;
use std::process::Command;

/// The LADSPA library's file name in target/bundled (LADSPA hosts look for it by this name).
pub const LADSPA_SO: &str = "crn_denoise_ladspa.so";

fn cargo_build(root: &Path, release: bool, args: &[&str]) -> std::io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).arg("build").args(args);
    if release {
        cmd.arg("--release");
    }
    if !cmd.status()?.success() {
        return Err(std::io::Error::other(format!("cargo build {} failed", args.join(" "))));
    }
    Ok(())
}

/// Builds the plugins and writes them to `target/bundled`.
pub fn bundle(root: &Path, release: bool) -> std::io::Result<()> {
    cargo_build(root, release, &["-p", "crn-ladspa"])?;
    let out = root.join("target").join(if release { "release" } else { "debug" });
    let bundled = root.join("target").join("bundled");
    std::fs::create_dir_all(&bundled)?;
    std::fs::copy(out.join("libcrn_denoise_ladspa.so"), bundled.join(LADSPA_SO))?;
    println!("Created the LADSPA library at {}", bundled.join(LADSPA_SO).display());
    Ok(())
}
