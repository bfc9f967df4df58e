//! The LADSPA library and the LV2 bundle (crates/crn-ladspa, crates/crn-lv2), built with cargo
//! and laid out in target/bundled next to the CLAP and VST3 bundles. nice-plug's bundler only
//! knows CLAP and VST3.

use std::path::Path;
use std::process::Command;

/// The LADSPA library's file name in target/bundled (LADSPA hosts look for it by this name).
pub const LADSPA_SO: &str = "crn_denoise_ladspa.so";
/// The LV2 bundle's folder in target/bundled; the binary's name inside is in its manifest.
pub const LV2_BUNDLE: &str = "crn_denoise.lv2";

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
    cargo_build(root, release, &["-p", "crn-ladspa", "-p", "crn-lv2"])?;
    let out = root.join("target").join(if release { "release" } else { "debug" });
    let bundled = root.join("target").join("bundled");
    std::fs::create_dir_all(&bundled)?;
    std::fs::copy(out.join("libcrn_denoise_ladspa.so"), bundled.join(LADSPA_SO))?;
    println!("Created the LADSPA library at {}", bundled.join(LADSPA_SO).display());
    let lv2 = bundled.join(LV2_BUNDLE);
    std::fs::create_dir_all(&lv2)?;
    // The binary's name is the one manifest.ttl gives (crn_denoise_lv2::ttl::BINARY).
    std::fs::copy(out.join("libcrn_denoise_lv2.so"), lv2.join("crn_denoise.so"))?;
    if !Command::new(out.join("crn-lv2-ttl")).arg(&lv2).status()?.success() {
        return Err(std::io::Error::other("crn-lv2-ttl could not write the LV2 bundle's Turtle"));
    }
    println!("Created the LV2 bundle at {}", lv2.display());
    Ok(())
}
