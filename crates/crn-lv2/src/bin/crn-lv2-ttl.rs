//! `crn-lv2-ttl DIR`: writes the LV2 bundle's manifest.ttl and crn_denoise.ttl into DIR (run by
//! `cargo xtask bundle`, from the same port table the binary is built from).

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: crn-lv2-ttl BUNDLE_DIR");
        std::process::exit(2);
    };
    let write = |name: &str, text: String| {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("crn-lv2-ttl: cannot write {}: {e}", dir.join(name).display());
            std::process::exit(1);
        }
    };
    write("manifest.ttl", crn_denoise_lv2::ttl::manifest());
    write(crn_denoise_lv2::ttl::PLUGINS_TTL, crn_denoise_lv2::ttl::plugins());
}
