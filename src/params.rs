//! The plugin's parameters, as the host sees them.

use std::sync::Arc;

use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;

use crate::engine::{Settings, NO_LIMIT_DB};

#[derive(Params)]
pub struct CrnParams {
    /// Window size; not a host parameter.
    pub editor_state: Arc<EguiEditorState>,

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
}

pub const DEFAULT_ATTENUATION_DB: f32 = 30.0;

impl Default for CrnParams {
    fn default() -> Self {
        Self {
            editor_state: crate::editor::default_state(),
            mix: FloatParam::new("Mix", 1.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            attenuation_limit: FloatParam::new(
                "Attenuation Limit",
                DEFAULT_ATTENUATION_DB,
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
            output_gain: FloatParam::new("Output Gain", 0.0, FloatRange::Linear { min: -24.0, max: 24.0 })
                .with_unit(" dB")
                .with_step_size(0.1)
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            stereo_link: BoolParam::new("Stereo Link", true),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
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
        }
    }
}
