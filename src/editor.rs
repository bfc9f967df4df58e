//! The egui editor. (A minimal status view; issue 4 grows it into the full editor.)
use std::sync::Arc;


use nice_plug_egui::{create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, RepaintNotifier};

use crate::meter::Meters;
use crate::params::CrnParams;

pub const DEFAULT_SIZE: (u32, u32) = (760, 460);

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(nice_plug::editor::dpi::LogicalSize::new(DEFAULT_SIZE.0, DEFAULT_SIZE.1), 1.0)
}

pub struct App {
    params: Arc<CrnParams>,
    meters: Arc<Meters>,
}

impl nice_plug_egui::NiceEguiApp for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        ui.heading("CRN Denoise");
        ui.label(format!("mix {:.0} %", self.params.mix.value() * 100.0));
        ui.label(self.meters.status());
    }
}

pub fn create(params: Arc<CrnParams>, meters: Arc<Meters>) -> Option<EguiEditor<App>> {
    create_egui_editor(params.editor_state.clone(), RepaintNotifier::new(), EguiNiceSettings::default(), App { params, meters })
}
