//! The egui editor: knobs for the parameters, the model's mask across frequency, level and
//! reduction meters, and a status line. Everything is laid out from the window's size, so the
//! editor scales when the host (or the corner grip) resizes it.

mod gl_pin;
mod knob;
mod meters;
mod theme;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use egui::{pos2, vec2, Align2, FontId, Rect, Ui};
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::editor::ResizeHint;
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::resizable_window::ResizableWindow;
use nice_plug_egui::{create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, RepaintNotifier};

use crate::engine::NO_LIMIT_DB;
use crate::meter::{Meters, RecentCount, Status};
use crate::params::{CrnParams, LatencyChoice, OutputChoice};

use knob::{toggle, toggle_choice, Knob};
use meters::{MaskView, MeterState};

pub const DEFAULT_SIZE: (u32, u32) = (860, 520);
/// Below this the knobs' value text and the plot's labels start to collide.
const MIN_SIZE: (f32, f32) = (680.0, 440.0);
const MAX_SIZE: (f32, f32) = (1800.0, 1200.0);

/// The window's state at `size` (logical pixels), e.g. the size saved with the project.
pub fn state_at(size: (u32, u32)) -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(size.0, size.1), 1.0)
}

pub struct App {
    params: Arc<CrnParams>,
    meters: Arc<Meters>,
    /// Set when the window opens; the knobs need it to talk to the host.
    gui: Option<GuiContext>,
    levels: MeterState,
    /// The window's live state; its size is copied into the saved parameter as it changes.
    state: Arc<EguiEditorState>,
    /// Late frames in the last seconds (the engine's count only grows).
    late: RecentCount,
    late_recent: u64,
}

impl nice_plug_egui::NiceEguiApp for App {
    fn build(&mut self, egui_ctx: egui::Context, gui: GuiContext, _frame: &mut nice_plug_egui::Frame) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        theme::apply(&egui_ctx);
        // The window's GL context exists now, so its libraries and driver are loaded: keep them.
        gl_pin::pin_gl_libraries();
        self.gui = Some(gui);
        self.levels = MeterState::default();
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut nice_plug_egui::Frame) {
        // The meters change every 10 ms whether or not anyone touches the window.
        ui.ctx().request_repaint();
        let now = ui.input(|i| i.time);
        self.levels.update(&self.meters, now);
        self.late_recent = self.late.update(self.meters.late(), now);
        let size = self.state.logical_size();
        let size = (size.width.round() as u32, size.height.round() as u32);
        if let Ok(mut saved) = self.params.editor_size.lock() {
            if *saved != size {
                *saved = size;
            }
        }
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        ResizableWindow::new("crn-denoise-editor")
            .min_size(vec2(MIN_SIZE.0, MIN_SIZE.1))
            .max_size(vec2(MAX_SIZE.0, MAX_SIZE.1))
            .show(ui, |ui| self.layout(ui, &setter));
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

impl App {
    fn layout(&self, ui: &mut Ui, setter: &ParamSetter) {
        let full = ui.max_rect();
        ui.painter().rect_filled(full, 0.0, theme::BG);
        let r = full.shrink(14.0);
        let gap = 10.0;
        let header = Rect::from_min_size(r.min, vec2(r.width(), 40.0));
        let status_rect = Rect::from_min_max(pos2(r.left(), r.bottom() - 24.0), r.max);
        let body = Rect::from_min_max(pos2(r.left(), header.bottom() + 4.0), pos2(r.right(), status_rect.top() - gap));
        let controls_h = (body.height() * 0.38).clamp(150.0, 220.0);
        let top = Rect::from_min_max(body.min, pos2(body.right(), body.bottom() - controls_h - gap));
        let controls = Rect::from_min_max(pos2(body.left(), top.bottom() + gap), body.max);
        let meters_w = (r.width() * 0.23).clamp(196.0, 260.0);
        let plot = Rect::from_min_max(top.min, pos2(top.right() - meters_w - gap, top.bottom()));
        let levels = Rect::from_min_max(pos2(plot.right() + gap, top.top()), top.max);

        let status = self.meters.status();

        self.header(ui, header);

        let limit = self.params.attenuation_limit.value();
        let inactive = if self.params.bypass.value() {
            Some("BYPASSED")
        } else if matches!(status, Status::Passthrough(_)) {
            Some("PASSTHROUGH — no model")
        } else if status == Status::ModelFailed {
            Some("PASSTHROUGH — model failed")
        } else {
            None
        };
        MaskView {
            state: &self.levels,
            nyquist_hz: self.meters.nyquist_hz.load(Ordering::Relaxed),
            limit_db: (limit < NO_LIMIT_DB).then_some(limit),
            inactive,
        }
        .paint(ui.painter(), plot);
        meters::paint_levels(ui.painter(), levels, &self.levels);

        self.controls(ui, controls, setter);
        self.status_line(ui, status_rect, &status);
    }

    fn header(&self, ui: &Ui, rect: Rect) {
        let painter = ui.painter();
        let title = painter.text(pos2(rect.left(), rect.center().y), Align2::LEFT_CENTER, "CRN Denoise", FontId::proportional(24.0), theme::TEXT);
        painter.text(
            pos2(title.right() + 12.0, rect.center().y + 3.0),
            Align2::LEFT_CENTER,
            "real-time speech denoiser",
            FontId::proportional(14.0),
            theme::TEXT_DIM,
        );
        let model = self.meters.model_name.lock().map(|s| s.clone()).unwrap_or_default();
        if !model.is_empty() {
            painter.text(pos2(rect.right(), rect.center().y + 3.0), Align2::RIGHT_CENTER, format!("model  {model}"), FontId::proportional(13.0), theme::TEXT_DIM);
        }
    }

    fn controls(&self, ui: &mut Ui, rect: Rect, setter: &ParamSetter) {
        ui.painter().rect_filled(rect, 8.0, theme::PANEL);
        let inner = rect.shrink2(vec2(12.0, 10.0));
        let toggles_w = 170.0;
        let knobs = Rect::from_min_max(inner.min, pos2(inner.right() - toggles_w - 16.0, inner.bottom()));
        let cell_w = knobs.width() / 3.0;
        let cell = |i: usize| Rect::from_min_size(pos2(knobs.left() + cell_w * i as f32, knobs.top()), vec2(cell_w, knobs.height()));
        let p = &self.params;
        Knob::new(&p.mix, setter, "Mix").show(ui, cell(0));
        Knob::new(&p.attenuation_limit, setter, "Attenuation limit").color(theme::WARM).show(ui, cell(1));
        Knob::new(&p.output_gain, setter, "Output gain").bipolar().color(theme::GAIN).show(ui, cell(2));

        let sep = knobs.right() + 8.0;
        ui.painter().line_segment([pos2(sep, inner.top() + 6.0), pos2(sep, inner.bottom() - 6.0)], egui::Stroke::new(1.0, theme::BORDER));
        let tx = inner.right() - toggles_w;
        let gap = 6.0;
        let button_h = ((inner.height() - 3.0 * gap) / 4.0).min(36.0);
        let total = button_h * 4.0 + 3.0 * gap;
        let y0 = inner.center().y - total * 0.5;
        let row = |i: usize| Rect::from_min_size(pos2(tx, y0 + i as f32 * (button_h + gap)), vec2(toggles_w, button_h));
        toggle(ui, row(0), &p.stereo_link, setter, "Stereo link", theme::ACCENT, "One gain for both channels keeps the stereo image steady");
        toggle_choice(
            ui,
            row(1),
            &p.output,
            setter,
            (OutputChoice::Removed, OutputChoice::Denoised),
            "Removed noise",
            theme::WARM,
            "Listen to what is taken away (input minus output), to check no speech goes with it",
        );
        toggle_choice(
            ui,
            row(2),
            &p.latency,
            setter,
            (LatencyChoice::Low, LatencyChoice::Standard),
            "20 ms latency",
            theme::GAIN,
            "20 ms instead of 30 ms for live monitoring; the model gets less time, so a busy machine holds gains more often",
        );
        toggle(ui, row(3), &p.bypass, setter, "Bypass", theme::BYPASS, "Pass the input through (latency stays the same)");
    }

    fn status_line(&self, ui: &Ui, rect: Rect, status: &Status) {
        let painter = ui.painter();
        let font = FontId::proportional(13.0);
        let rate = self.meters.sample_rate.load(Ordering::Relaxed);
        let y = rect.center().y;
        if rate <= 0.0 {
            painter.text(pos2(rect.left(), y), Align2::LEFT_CENTER, "waiting for the host to start audio", font, theme::TEXT_DIM);
            return;
        }
        let latency = self.meters.latency_samples.load(Ordering::Relaxed);
        let late = self.late_recent;
        let mut x = rect.left();
        let mut put = |text: String, color| {
            let r = painter.text(pos2(x, y), Align2::LEFT_CENTER, text, font.clone(), color);
            x = r.right() + 18.0;
        };
        put(format!("{:.1} kHz", rate / 1000.0), theme::TEXT_DIM);
        put(format!("latency {:.1} ms ({latency} samples)", latency as f32 / rate * 1000.0), theme::TEXT_DIM);
        // Late frames mean the machine cannot keep up: worth a colour, not an alarm. A recent
        // count, so one busy moment does not stay on screen for the rest of the session.
        put(format!("late frames {late} in {:.0} s", RecentCount::WINDOW_S), if late > 0 { theme::CAUTION } else { theme::TEXT_DIM });
        match status {
            Status::Denoising { note } if note.is_empty() => {}
            Status::Denoising { note } => put(format!("⚠ {note}"), theme::CAUTION),
            Status::Passthrough(why) => put(format!("⚠ passthrough: {why}"), theme::WARN),
            Status::ModelFailed => put("⚠ passthrough: the model failed while running".into(), theme::WARN),
        }
    }
}

pub fn create(params: Arc<CrnParams>, meters: Arc<Meters>) -> Option<EguiEditor<App>> {
    let settings = EguiNiceSettings::default()
        .with_tile("CRN Denoise")
        .with_resize_hint(ResizeHint::resizable().with_min_max_logical_size(
            Some(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)),
            Some(LogicalSize::new(MAX_SIZE.0, MAX_SIZE.1)),
        ));
    // Opened after the host restored the project: start at the size saved with it.
    let size = params.editor_size.lock().map(|s| *s).unwrap_or(DEFAULT_SIZE);
    let state = state_at(size);
    create_egui_editor(
        state.clone(),
        RepaintNotifier::new(),
        settings,
        App { params, meters, gui: None, levels: MeterState::default(), state, late: RecentCount::default(), late_recent: 0 },
    )
}
