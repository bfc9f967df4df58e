//! The plugins and their ports: one table for LADSPA and LV2 alike.
//!
//! Every plugin comes in a 30 ms and a 20 ms ("live") variant, because neither a LADSPA nor
//! (in practice) an LV2 host follows a latency that changes while the plugin runs: the mode
//! is chosen by picking the plugin, as `LatencyMode` is chosen in the CLAP/VST3 plugin by
//! restarting it. Defaults and ranges come from the engine's `defaults`, the one home the
//! CLAP/VST3 parameters and the CLI's options also read.

use crn_engine::engine::{defaults, Engine, LatencyMode, Settings, NO_LIMIT_DB};

/// One plugin: channel count and latency mode, with its names in both ABIs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    /// LADSPA label, and the last part of the LV2 URI.
    pub label: &'static str,
    pub name: &'static str,
    /// LADSPA unique id (a 24-bit number no other plugin should use; see [`LADSPA_ID_BASE`]).
    pub ladspa_id: u32,
    pub channels: usize,
    pub latency: LatencyMode,
}

impl Variant {
    pub fn ports(&self) -> &'static [Port] {
        if self.channels == 1 {
            MONO_PORTS
        } else {
            STEREO_PORTS
        }
    }

    /// The delay this plugin reports at a rate, in samples (the engine's one computation).
    pub fn latency_at(&self, sample_rate: f32) -> usize {
        Engine::latency_for(sample_rate, self.latency)
    }
}

/// "CR" in ASCII (0x43 0x52) as the top 16 of 24 bits: a block of ids nobody else picks by
/// accident. LADSPA ids have no registry any more; hosts key on them, so they never change.
pub const LADSPA_ID_BASE: u32 = 0x43_52_00;

pub const VARIANTS: &[Variant] = &[
    Variant { label: "crn_denoise_mono", name: "CRN Denoise (mono)", ladspa_id: LADSPA_ID_BASE + 1, channels: 1, latency: LatencyMode::Standard },
    Variant { label: "crn_denoise_stereo", name: "CRN Denoise (stereo)", ladspa_id: LADSPA_ID_BASE + 2, channels: 2, latency: LatencyMode::Standard },
    Variant { label: "crn_denoise_mono_live", name: "CRN Denoise (mono, 20 ms live)", ladspa_id: LADSPA_ID_BASE + 3, channels: 1, latency: LatencyMode::Low },
    Variant { label: "crn_denoise_stereo_live", name: "CRN Denoise (stereo, 20 ms live)", ladspa_id: LADSPA_ID_BASE + 4, channels: 2, latency: LatencyMode::Low },
];

/// What a port does for the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Audio in / out of a channel.
    AudioIn(usize),
    AudioOut(usize),
    Mix,
    AttenuationLimit,
    OutputGain,
    StereoLink,
    Output,
    /// Output: the delay in samples.
    Latency,
}

/// How a control port's value is shown and stepped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PortKind {
    Audio,
    /// A number from `min` to `max`; `unit` for LV2 (`units:` local name), `integer` for a
    /// choice among whole numbers, with `labels` naming them from `min` up.
    Control { min: f32, max: f32, default: f32, unit: Option<&'static str>, toggled: bool, integer: bool, labels: &'static [&'static str] },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Port {
    pub role: Role,
    /// LV2 symbol (a C identifier).
    pub symbol: &'static str,
    /// LADSPA name and LV2 name. The latency port is named `latency` too: LADSPA hosts
    /// (PipeWire's filter-chain among them) find the delay by that name.
    pub name: &'static str,
    pub kind: PortKind,
}

impl Port {
    pub fn is_input(&self) -> bool {
        !matches!(self.role, Role::AudioOut(_) | Role::Latency)
    }

    pub fn is_audio(&self) -> bool {
        self.kind == PortKind::Audio
    }

    /// The control's default value (0 for audio ports).
    pub fn default(&self) -> f32 {
        match self.kind {
            PortKind::Control { default, .. } => default,
            PortKind::Audio => 0.0,
        }
    }
}

/// The attenuation limit's top: every value from [`NO_LIMIT_DB`] up means "no limit", and
/// LADSPA can state a default only as a fixed point of the range; with the top at four times
/// the default, the default is LADSPA's "low" point (a quarter of the way) exactly.
const ATTENUATION_TOP_DB: f32 = 4.0 * defaults::ATTENUATION_LIMIT_DB;
const _: () = assert!(ATTENUATION_TOP_DB >= NO_LIMIT_DB);

const fn audio(role: Role, symbol: &'static str, name: &'static str) -> Port {
    Port { role, symbol, name, kind: PortKind::Audio }
}

const MIX: Port = Port {
    role: Role::Mix,
    symbol: "mix",
    name: "Mix (%)",
    kind: PortKind::Control { min: 0.0, max: 100.0, default: defaults::MIX * 100.0, unit: Some("pc"), toggled: false, integer: false, labels: &[] },
};
const ATTENUATION: Port = Port {
    role: Role::AttenuationLimit,
    symbol: "attenuation_limit",
    name: "Attenuation limit (dB, 100 = no limit)",
    kind: PortKind::Control { min: 0.0, max: ATTENUATION_TOP_DB, default: defaults::ATTENUATION_LIMIT_DB, unit: Some("db"), toggled: false, integer: false, labels: &[] },
};
const GAIN: Port = Port {
    role: Role::OutputGain,
    symbol: "output_gain",
    name: "Output gain (dB)",
    kind: PortKind::Control {
        min: defaults::OUTPUT_GAIN_RANGE_DB.0,
        max: defaults::OUTPUT_GAIN_RANGE_DB.1,
        default: defaults::OUTPUT_GAIN_DB,
        unit: Some("db"),
        toggled: false,
        integer: false,
        labels: &[],
    },
};
const LINK: Port = Port {
    role: Role::StereoLink,
    symbol: "stereo_link",
    name: "Stereo link",
    kind: PortKind::Control { min: 0.0, max: 1.0, default: defaults::STEREO_LINK as u8 as f32, unit: None, toggled: true, integer: false, labels: &[] },
};
const OUTPUT: Port = Port {
    role: Role::Output,
    symbol: "output",
    name: "Output (0 = denoised, 1 = removed noise)",
    kind: PortKind::Control { min: 0.0, max: 1.0, default: 0.0, unit: None, toggled: false, integer: true, labels: &["Denoised", "Removed noise"] },
};
/// Read by hosts only; its range covers any latency up to 192 kHz, so a host that shows it
/// does not clamp it.
const LATENCY: Port = Port {
    role: Role::Latency,
    symbol: "latency",
    name: "latency",
    kind: PortKind::Control { min: 0.0, max: 8192.0, default: 0.0, unit: None, toggled: false, integer: true, labels: &[] },
};

const MONO_PORTS: &[Port] = &[
    audio(Role::AudioIn(0), "in", "Input"),
    audio(Role::AudioOut(0), "out", "Output"),
    MIX,
    ATTENUATION,
    GAIN,
    OUTPUT,
    LATENCY,
];

const STEREO_PORTS: &[Port] = &[
    audio(Role::AudioIn(0), "in_l", "Input L"),
    audio(Role::AudioIn(1), "in_r", "Input R"),
    audio(Role::AudioOut(0), "out_l", "Output L"),
    audio(Role::AudioOut(1), "out_r", "Output R"),
    MIX,
    ATTENUATION,
    GAIN,
    LINK,
    OUTPUT,
    LATENCY,
];

/// The engine's settings for control values read from ports (`value(role)`: the port's value,
/// or `None` where the host left it unconnected). Values outside a port's range are clamped to
/// it, a NaN takes the default: a host can send anything.
pub fn settings(ports: &[Port], value: impl Fn(usize) -> Option<f32>) -> Settings {
    let mut s = Settings::default();
    for (i, p) in ports.iter().enumerate() {
        let PortKind::Control { min, max, default, .. } = p.kind else { continue };
        let v = value(i).filter(|v| !v.is_nan()).unwrap_or(default).clamp(min, max);
        match p.role {
            Role::Mix => s.mix = v / 100.0,
            Role::AttenuationLimit => s.attenuation_limit_db = v,
            Role::OutputGain => s.output_gain_db = v,
            Role::StereoLink => s.stereo_link = v > 0.5,
            Role::Output => s.output = if v > 0.5 { crn_engine::engine::Output::Removed } else { crn_engine::engine::Output::Denoised },
            Role::AudioIn(_) | Role::AudioOut(_) | Role::Latency => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every port's default, read as a setting, is the engine's default: the table does not
    /// drift from the one home.
    #[test]
    fn defaults_are_the_engines() {
        for v in VARIANTS {
            let ports = v.ports();
            let s = settings(ports, |i| Some(ports[i].default()));
            let d = Settings::default();
            assert_eq!((s.mix, s.attenuation_limit_db, s.output_gain_db, s.output), (d.mix, d.attenuation_limit_db, d.output_gain_db, d.output), "{}", v.label);
            assert_eq!(s, settings(ports, |_| None), "unconnected ports read as defaults ({})", v.label);
            assert_eq!(s.stereo_link, d.stereo_link);
        }
    }

    #[test]
    fn out_of_range_and_nan_values_are_tamed() {
        let ports = VARIANTS[1].ports();
        let s = settings(ports, |i| match ports[i].role {
            Role::Mix => Some(1e9),
            Role::OutputGain => Some(-1e9),
            Role::AttenuationLimit => Some(f32::NAN),
            _ => Some(f32::INFINITY),
        });
        assert_eq!(s.mix, 1.0);
        assert_eq!(s.output_gain_db, defaults::OUTPUT_GAIN_RANGE_DB.0);
        assert_eq!(s.attenuation_limit_db, defaults::ATTENUATION_LIMIT_DB);
        assert!(s.stereo_link);
    }

    #[test]
    fn one_latency_port_named_latency_and_unique_symbols() {
        for v in VARIANTS {
            let ports = v.ports();
            let lat: Vec<_> = ports.iter().filter(|p| p.role == Role::Latency).collect();
            assert_eq!(lat.len(), 1);
            assert_eq!((lat[0].name, lat[0].symbol), ("latency", "latency"));
            assert!(!lat[0].is_input());
            let PortKind::Control { max, .. } = lat[0].kind else { panic!() };
            assert!(v.latency_at(192_000.0) as f32 <= max);
            let mut symbols: Vec<_> = ports.iter().map(|p| p.symbol).collect();
            symbols.sort();
            symbols.dedup();
            assert_eq!(symbols.len(), ports.len(), "{}", v.label);
            assert_eq!(ports.iter().filter(|p| matches!(p.role, Role::AudioIn(_))).count(), v.channels);
            assert_eq!(ports.iter().filter(|p| matches!(p.role, Role::AudioOut(_))).count(), v.channels);
        }
    }

    #[test]
    fn live_variants_are_20_ms_the_others_30() {
        for v in VARIANTS {
            let ms = if v.label.ends_with("_live") { 20 } else { 30 };
            assert_eq!(v.latency.ms(), ms, "{}", v.label);
            assert_eq!(v.latency_at(48_000.0), 48 * ms as usize);
        }
        let mut ids: Vec<_> = VARIANTS.iter().map(|v| v.ladspa_id).collect();
        ids.dedup();
        assert_eq!(ids.len(), VARIANTS.len());
        assert!(ids.iter().all(|&id| id > 0 && id < 1 << 24));
    }
}
