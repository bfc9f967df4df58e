//! crn-denoise: real-time speech denoising with the CRN of Tan & Wang (2018), as a CLAP and
//! VST3 plugin and a command-line tool that share one engine.

use std::num::NonZeroU32;
use std::sync::Arc;

use nice_plug::prelude::*;

pub mod editor;
pub mod params;

// The framework-free audio path, shared with the CLI.
pub use crn_engine::{denormals, engine, meter, model, stft};

use engine::{Config, Engine, Mode};
use meter::Meters;
use model::Model;
use params::CrnParams;

pub struct CrnDenoise {
    params: Arc<CrnParams>,
    meters: Arc<Meters>,
    /// Loaded on the first activation and kept: hosts re-activate on every rate or block change.
    model: Option<Result<Arc<Model>, String>>,
    engine: Option<Engine>,
}

impl Default for CrnDenoise {
    fn default() -> Self {
        Self { params: Arc::new(CrnParams::default()), meters: Arc::new(Meters::default()), model: None, engine: None }
    }
}

impl CrnDenoise {
    fn model(&mut self) -> Result<Arc<Model>, String> {
        self.model
            .get_or_insert_with(|| {
                let path = std::env::var_os("CRN_MODEL");
                model::catch(|| match path {
                    Some(p) => Model::from_file(std::path::Path::new(&p)),
                    None => Model::embedded(),
                })
                .map(Arc::new)
            })
            .clone()
    }
}

impl Plugin for CrnDenoise {
    const NAME: &'static str = "CRN Denoise";
    const VENDOR: &'static str = "crn-denoise";
    // The project has no website or support address; hosts show empty fields rather than
    // made-up ones.
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    type Editor = nice_plug_egui::EguiEditor<editor::App>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.meters.clone())
    }

    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let channels = audio_io_layout.main_output_channels.map_or(2, NonZeroU32::get) as usize;
        let mode = match buffer_config.process_mode {
            ProcessMode::Offline => Mode::Offline,
            _ => Mode::Realtime,
        };
        let rate = buffer_config.sample_rate;
        let model = self.model();
        let config = Config::new(rate, channels, mode)
            .with_latency(self.params.latency_mode())
            .with_max_block(buffer_config.max_buffer_size as usize);
        let reusable = self.engine.as_ref().is_some_and(|e| e.config() == config && e.is_denoising() == model.is_ok());
        if !reusable {
            // Drop the old engine (and join its worker) before the new one starts its own.
            self.engine = None;
            self.engine = Some(Engine::with_config(config, model.clone().ok(), self.meters.clone()));
        }
        let engine = self.engine.as_mut().unwrap();
        let status = match (&model, rate) {
            (Err(e), _) => meter::Status::Passthrough(e.clone()),
            // The model loaded but the engine cannot run it (no worker thread).
            (Ok(_), _) if !engine.is_denoising() => {
                meter::Status::Passthrough(engine.passthrough_reason().unwrap_or_default())
            }
            (Ok(_), r) if !(8_000.0..=192_000.0).contains(&r) => {
                meter::Status::Denoising { note: format!("{r} Hz is outside 8-192 kHz; denoising anyway") }
            }
            _ => meter::Status::Denoising { note: String::new() },
        };
        self.meters.set_status(status);
        if let Ok(m) = &model {
            if let Ok(mut n) = self.meters.model_name.lock() {
                *n = format!("{} ({} params)", m.info.name, m.info.params);
            }
        }
        engine.set(self.params.settings());
        engine.reset();
        context.set_latency_samples(engine.latency() as u32);
        true
    }

    fn reset(&mut self) {
        if let Some(e) = &mut self.engine {
            e.reset();
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // FTZ/DAZ for this call only, on the host's thread (see `DenormalGuard`); the host's
        // own setting is back when we return.
        let _denormals = denormals::DenormalGuard::new();
        let Some(engine) = &mut self.engine else { return ProcessStatus::Normal };
        let latency = self.params.latency_mode();
        if latency != engine.config().latency {
            // Preallocated for both modes: switching only clears the signal. The host is told
            // the new delay (it restarts the plugin to compensate it).
            engine.set_latency_mode(latency);
            context.set_latency_samples(engine.latency() as u32);
        }
        engine.set(self.params.settings());
        engine.process(buffer.as_slice());
        ProcessStatus::Normal
    }

    fn deactivate(&mut self) {}
}

impl ClapPlugin for CrnDenoise {
    const CLAP_ID: &'static str = "org.crn-denoise.crn-denoise";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Real-time speech denoiser (convolutional recurrent network)");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Stereo, ClapFeature::Mono, ClapFeature::Restoration];
}

impl Vst3Plugin for CrnDenoise {
    const VST3_CLASS_ID: [u8; 16] = *b"CrnDenoiseTanWng";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Restoration];
}

nice_export_clap!(CrnDenoise);
nice_export_vst3!(CrnDenoise);
