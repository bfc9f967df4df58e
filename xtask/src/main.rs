//! `cargo xtask bundle crn_denoise --release`: nice-plug's bundler, the LADSPA library and LV2
//! bundle (`live`), plus the ONNX Runtime library placed next to the plugin binary inside every
//! bundle (and next to the CLI), where the plugin looks for it.

mod live;

use std::path::{Path, PathBuf};
use std::process::Command;

const ORT_LIB: &str = "libonnxruntime.so.1.32.0";

fn main() -> nice_plug_xtask::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bundling = args.first().is_some_and(|a| a == "bundle");
    nice_plug_xtask::chdir_workspace_root()?;
    let root = std::env::current_dir()?;
    if bundling {
        let status = Command::new("bash").arg(root.join("scripts/fetch-onnxruntime.sh")).status()?;
        if !status.success() {
            return Err(std::io::Error::other("could not fetch the ONNX Runtime library (scripts/fetch-onnxruntime.sh)").into());
        }
    }
    nice_plug_xtask::main_with_args("cargo xtask", args.clone())?;
    if bundling {
        live::bundle(&root, args.iter().any(|a| a == "--release"))?;
        let runtime = root.join("runtime").join(ORT_LIB);
        for dir in runtime_destinations(&root.join("target")) {
            if dir.is_dir() {
                std::fs::copy(&runtime, dir.join(ORT_LIB))?;
                println!("Copied {ORT_LIB} to {}", dir.display());
            }
        }
    }
    Ok(())
}

fn runtime_destinations(target: &Path) -> Vec<PathBuf> {
    let bundled = target.join("bundled");
    // The LADSPA library sits in `bundled` itself, beside the CLAP.
    let mut dirs = vec![bundled.clone(), bundled.join(live::LV2_BUNDLE), target.join("release")];
    if let Ok(entries) = std::fs::read_dir(&bundled) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "vst3") {
                dirs.push(p.join("Contents").join(format!("{}-linux", std::env::consts::ARCH)));
            }
        }
    }
    dirs
}
