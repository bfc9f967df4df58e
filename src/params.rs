//! The plugin's parameters, as the host sees them.

use std::sync::{Arc, Mutex};

use nice_plug::prelude::*;

use crate::engine::{defaults, LatencyMode, Output, Settings, NO_LIMIT_DB};

/// The host-facing names of [`LatencyMode`].
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyChoice {
    #[id = "30ms"]
    #[name = "30 ms"]
    Standard,
    #[id = "20ms"]
    #[name = "20 ms (live)"]
    Low,
}

impl LatencyChoice {
    pub fn mode(self) -> LatencyMode {
        match self {
            LatencyChoice::Standard => LatencyMode::Standard,
            LatencyChoice::Low => LatencyMode::Low,
        }
    }
}

/// The host-facing names of [`Output`].
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputChoice {
    #[id = "denoised"]
    Denoised,
    #[id = "removed"]
    #[name = "Removed noise"]
    Removed,
}

impl OutputChoice {
    pub fn output(self) -> Output {
        match self {
            OutputChoice::Denoised => Output::Denoised,
            OutputChoice::Removed => Output::Removed,
        }
    }
}

#[derive(Params)]
pub struct CrnParams {
    /// The editor's size in logical pixels; not a host parameter, saved with the project.
    /// (nice-plug-egui's own state cannot be serialised, so the size is kept here.)
    #[persist = "editor-size"]
    pub editor_size: Mutex<(u32, u32)>,

    /// Wet share; the dry path is latency-aligned, so 0 % nulls against the delayed input.
    #[id = "mix"]
    pub mix: FloatParam,
    /// Largest reduction of any frequency bin: 0 dB changes nothing, 100 dB means no limit.
    #[id = "atten_limit"]
    pub attenuation_limit: FloatParam,
    #[id = "output_gain"]
    pub output_gain: FloatParam,
    /// One gain for both channels keeps the stereo image stable.
    #[id = "stereo_link"]
    pub stereo_link: BoolParam,
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// 30 ms, or 20 ms for live monitoring (less time for the model; see README, Latency).
    #[id = "latency"]
    pub latency: EnumParam<LatencyChoice>,
    /// Denoised signal, or the removed noise alone (delta solo) to check no speech goes with it.
    #[id = "output"]
    pub output: EnumParam<OutputChoice>,
}

impl Default for CrnParams {
    fn default() -> Self {
        Self {
            editor_size: Mutex::new(crate::editor::DEFAULT_SIZE),
            mix: FloatParam::new("Mix", defaults::MIX, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            attenuation_limit: FloatParam::new(
                "Attenuation Limit",
                defaults::ATTENUATION_LIMIT_DB,
                FloatRange::Linear { min: 0.0, max: NO_LIMIT_DB },
            )
            .with_unit(" dB")
            .with_step_size(0.5)
            .with_value_to_string(Arc::new(|v| {
                if v >= NO_LIMIT_DB { "no limit".into() } else { format!("{v:.1}") }
            }))
            // Hosts and the editor may hand back what they showed: "no limit", "12.5", "12.5 dB".
            .with_string_to_value(Arc::new(|s| {
                let s = s.trim().trim_end_matches("dB").trim();
                if s.eq_ignore_ascii_case("no limit") || s.eq_ignore_ascii_case("inf") {
                    Some(NO_LIMIT_DB)
                } else {
                    s.parse::<f32>().ok()
                }
            })),
            output_gain: FloatParam::new("Output Gain", defaults::OUTPUT_GAIN_DB, FloatRange::Linear { min: defaults::OUTPUT_GAIN_RANGE_DB.0, max: defaults::OUTPUT_GAIN_RANGE_DB.1 })
                .with_unit(" dB")
                .with_step_size(0.1)
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            stereo_link: BoolParam::new("Stereo Link", defaults::STEREO_LINK),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            // Each change restarts the plugin (the host must re-compensate the delay): an
            // audible cut per automation point, so hosts may not automate it.
            latency: EnumParam::new("Latency", LatencyChoice::Standard).non_automatable(),
            output: EnumParam::new("Output", OutputChoice::Denoised),
        }
    }
}

impl CrnParams {
    /// The engine's view of the current (unsmoothed) values; the engine smooths them.
    pub fn settings(&self) -> Settings {
        Settings {
            mix: self.mix.value(),
            attenuation_limit_db: self.attenuation_limit.value(),
            output_gain_db: self.output_gain.value(),
            stereo_link: self.stereo_link.value(),
            bypass: self.bypass.value(),
            output: self.output.value().output(),
        }
    }

    pub fn latency_mode(&self) -> LatencyMode {
        self.latency.value().mode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The editor's size is saved with the project and restored from it.
    #[test]
    fn editor_size_is_saved_and_restored() {
        let p = CrnParams::default();
        *p.editor_size.lock().unwrap() = (1000, 700);
        let saved = p.serialize_fields();
        assert!(saved.contains_key("editor-size"), "not saved: {saved:?}");
        let q = CrnParams::default();
        q.deserialize_fields(&saved);
        assert_eq!(*q.editor_size.lock().unwrap(), (1000, 700));
    }

    /// Issue 16, defect 5: a Latency change restarts the plugin (an audible cut), so a host
    /// must not offer it for automation.
    #[test]
    fn latency_is_not_automatable() {
        let p = CrnParams::default();
        assert!(p.latency.flags().contains(ParamFlags::NON_AUTOMATABLE));
        assert!(!p.mix.flags().contains(ParamFlags::NON_AUTOMATABLE));
    }
}
