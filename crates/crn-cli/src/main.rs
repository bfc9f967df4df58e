//! `crn-denoise`: the plugin's denoiser as a command-line tool. See `crn-denoise --help`.

fn main() {
    std::process::exit(crn_cli::cli::main());
}
