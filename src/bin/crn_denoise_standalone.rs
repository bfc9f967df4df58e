//! The plugin as a standalone application (JACK, ALSA or a silent dummy backend), mainly for
//! working on the editor without a host. `--help` lists the audio options.

fn main() {
    // A false return means the backend or the editor failed to start; say so in the exit code.
    if !nice_plug::nice_export_standalone::<crn_denoise::CrnDenoise>() {
        std::process::exit(1);
    }
}
