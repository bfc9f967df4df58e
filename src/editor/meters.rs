//! The mask display and the level meters: they read the audio thread's atomics once per frame
//! and do all smoothing here, so the audio thread only ever stores numbers.

use std::sync::atomic::Ordering;

use egui::{pos2, vec2, Align2, Color32, FontId, Mesh, Painter, Pos2, Rect, Shape, Stroke, StrokeKind};

use super::theme;
use crate::meter::{Meters, EXTENDED_BAND};
use crate::stft::MODEL_BINS;

const BIN_HZ: f32 = 50.0;
const LOW_HZ: f32 = 50.0;
/// The model's bins end here; above it one gain covers everything up to Nyquist.
const MODEL_TOP_HZ: f32 = (MODEL_BINS - 1) as f32 * BIN_HZ;
/// Bottom of the mask plot: deeper cuts are inaudible next to the rest.
pub const MASK_FLOOR_DB: f32 = -60.0;
/// Bottom of the level meters.
const LEVEL_FLOOR_DB: f32 = -60.0;
/// Bottom of the reduction meter.
const REDUCTION_FLOOR_DB: f32 = -40.0;

/// About the ear's sense of "now": slower looks sluggish, faster flickers at the hop rate.
const MASK_TAU_S: f32 = 0.1;
const PEAK_HOLD_S: f32 = 0.8;
const PEAK_FALL_DB_PER_S: f32 = 24.0;
const LEVEL_ATTACK_S: f32 = 0.02;
const LEVEL_RELEASE_S: f32 = 0.3;
const LEVEL_PEAK_HOLD_S: f32 = 1.5;

const N: usize = MODEL_BINS + 1;

/// A held maximum that falls back after a while.
#[derive(Clone, Copy)]
struct Peak {
    db: f32,
    age: f32,
}

impl Peak {
    const fn new(db: f32) -> Self {
        Self { db, age: 0.0 }
    }

    fn update(&mut self, db: f32, hold: f32, dt: f32) {
        if db >= self.db {
            self.db = db;
            self.age = 0.0;
        } else {
            self.age += dt;
            if self.age > hold {
                self.db = (self.db - PEAK_FALL_DB_PER_S * dt).max(db);
            }
        }
    }
}

pub struct MeterState {
    mask_db: [f32; N],
    /// Speech is transient and the smoothing hides it: the held maxima show which bands the
    /// model let through recently.
    mask_peak: [Peak; N],
    input_db: f32,
    output_db: f32,
    reduction_db: f32,
    input_peak: Peak,
    output_peak: Peak,
    /// Reduction is held at its deepest, as on a compressor's gain-reduction meter.
    reduction_peak: Peak,
    last_time: Option<f64>,
}

impl Default for MeterState {
    fn default() -> Self {
        Self {
            mask_db: [0.0; N],
            mask_peak: [Peak::new(MASK_FLOOR_DB); N],
            input_db: LEVEL_FLOOR_DB,
            output_db: LEVEL_FLOOR_DB,
            reduction_db: 0.0,
            input_peak: Peak::new(LEVEL_FLOOR_DB),
            output_peak: Peak::new(LEVEL_FLOOR_DB),
            reduction_peak: Peak::new(0.0),
            last_time: None,
        }
    }
}

fn gain_db(g: f32) -> f32 {
    (20.0 * g.max(1e-6).log10()).clamp(MASK_FLOOR_DB, 0.0)
}

fn smooth(current: f32, target: f32, tau: f32, dt: f32) -> f32 {
    current + (target - current) * (1.0 - (-dt / tau).exp())
}

impl MeterState {
    /// Pulls the latest values; `now` is egui's clock in seconds.
    pub fn update(&mut self, meters: &Meters, now: f64) {
        // A closed editor resumes without a jump from stale state.
        let dt = match self.last_time {
            Some(t) => ((now - t) as f32).clamp(0.0, 0.25),
            None => 1.0,
        };
        self.last_time = Some(now);
        for b in 0..N {
            let db = gain_db(meters.mask[b].load(Ordering::Relaxed));
            self.mask_db[b] = smooth(self.mask_db[b], db, MASK_TAU_S, dt);
            self.mask_peak[b].update(db, PEAK_HOLD_S, dt);
        }
        let level = |target: f32, current: f32| {
            let tau = if target > current { LEVEL_ATTACK_S } else { LEVEL_RELEASE_S };
            smooth(current, target.max(LEVEL_FLOOR_DB), tau, dt)
        };
        let input = meters.input_db.load(Ordering::Relaxed);
        let output = meters.output_db.load(Ordering::Relaxed);
        self.input_db = level(input, self.input_db);
        self.output_db = level(output, self.output_db);
        self.input_peak.update(input.max(LEVEL_FLOOR_DB), LEVEL_PEAK_HOLD_S, dt);
        self.output_peak.update(output.max(LEVEL_FLOOR_DB), LEVEL_PEAK_HOLD_S, dt);

        // Reduction in the same attack/release sense: deeper is "louder".
        let red = meters.reduction_db.load(Ordering::Relaxed).clamp(REDUCTION_FLOOR_DB, 0.0);
        let tau = if red < self.reduction_db { LEVEL_ATTACK_S } else { LEVEL_RELEASE_S };
        self.reduction_db = smooth(self.reduction_db, red, tau, dt);
        let mut held = Peak { db: -self.reduction_peak.db, age: self.reduction_peak.age };
        held.update(-red, LEVEL_PEAK_HOLD_S, dt);
        self.reduction_peak = Peak { db: -held.db, age: held.age };
    }
}

/// Log-frequency x axis of the mask plot.
struct FreqAxis {
    left: f32,
    width: f32,
    log_lo: f32,
    log_span: f32,
}

impl FreqAxis {
    fn new(rect: Rect, nyquist: f32) -> Self {
        let log_lo = LOW_HZ.ln();
        Self { left: rect.left(), width: rect.width(), log_lo, log_span: nyquist.ln() - log_lo }
    }

    fn x(&self, hz: f32) -> f32 {
        self.left + self.width * (hz.max(LOW_HZ).ln() - self.log_lo) / self.log_span
    }
}

pub struct MaskView<'a> {
    pub state: &'a MeterState,
    pub nyquist_hz: f32,
    /// The attenuation limit in dB, drawn as the floor the gains cannot go below; `None` = no limit.
    pub limit_db: Option<f32>,
    /// Greyed out with this word across it (bypass, passthrough).
    pub inactive: Option<&'a str>,
}

impl MaskView<'_> {
    pub fn paint(&self, painter: &Painter, outer: Rect) {
        painter.rect_filled(outer, 8.0, theme::PLOT_BG);
        // Room for the dB labels on the left and the frequency labels below.
        let plot = Rect::from_min_max(outer.min + vec2(38.0, 26.0), outer.max - vec2(12.0, 24.0));
        let painter = &painter.with_clip_rect(outer);
        let nyquist = if self.nyquist_hz > 1000.0 { self.nyquist_hz } else { 24_000.0 };
        let axis = FreqAxis::new(plot, nyquist);
        let y = |db: f32| plot.top() + plot.height() * (db / MASK_FLOOR_DB).clamp(0.0, 1.0);

        painter.text(outer.min + vec2(12.0, 8.0), Align2::LEFT_TOP, "NOISE MASK", FontId::proportional(13.0), theme::TEXT_DIM);
        legend(painter, pos2(outer.right() - 12.0, outer.top() + 15.0));
        painter.text(pos2(plot.left() - 6.0, plot.bottom() + 6.0), Align2::RIGHT_TOP, "dB", FontId::proportional(11.0), theme::TEXT_FAINT);

        // Grid: a line per 1-2-5 decade step, labels on the ones people think in.
        for decade in [10.0f32, 100.0, 1000.0, 10_000.0] {
            for m in 1..10 {
                let hz = decade * m as f32;
                if !(LOW_HZ..=nyquist).contains(&hz) {
                    continue;
                }
                let x = axis.x(hz);
                let major = m == 1;
                painter.line_segment([pos2(x, plot.top()), pos2(x, plot.bottom())], Stroke::new(1.0, if major { theme::GRID_MAJOR } else { theme::GRID }));
            }
        }
        for (hz, label) in [(100.0, "100"), (1000.0, "1k"), (4000.0, "4k"), (8000.0, "8k"), (16_000.0, "16k")] {
            if hz <= nyquist {
                let x = axis.x(hz);
                painter.line_segment([pos2(x, plot.bottom()), pos2(x, plot.bottom() + 4.0)], Stroke::new(1.0, theme::TEXT_FAINT));
                painter.text(pos2(x, plot.bottom() + 6.0), Align2::CENTER_TOP, label, FontId::proportional(12.0), theme::TEXT_DIM);
            }
        }
        painter.text(pos2(plot.right(), plot.bottom() + 6.0), Align2::RIGHT_TOP, "Hz", FontId::proportional(12.0), theme::TEXT_FAINT);
        for db in [0.0f32, -12.0, -24.0, -36.0, -48.0, -60.0] {
            let yy = y(db);
            painter.line_segment([pos2(plot.left(), yy), pos2(plot.right(), yy)], Stroke::new(1.0, theme::GRID));
            painter.text(pos2(plot.left() - 6.0, yy), Align2::RIGHT_CENTER, format!("{db:.0}"), FontId::proportional(11.0), theme::TEXT_DIM);
        }

        // The curve: model bins up to 8 kHz (or Nyquist), then the shared band above.
        let mut curve: Vec<Pos2> = Vec::with_capacity(N + 2);
        let mut peaks: Vec<Pos2> = Vec::with_capacity(N + 2);
        let last = ((nyquist / BIN_HZ) as usize).min(MODEL_BINS - 1);
        for b in 1..=last {
            let x = axis.x(b as f32 * BIN_HZ);
            curve.push(pos2(x, y(octave_smoothed(b, last, |k| self.state.mask_db[k]))));
            peaks.push(pos2(x, y(octave_smoothed(b, last, |k| self.state.mask_peak[k].db))));
        }
        if nyquist > MODEL_TOP_HZ + BIN_HZ {
            let e = EXTENDED_BAND;
            // A short ramp rather than a vertical wall: the band edge is not that sharp.
            for hz in [MODEL_TOP_HZ * 1.04, nyquist] {
                curve.push(pos2(axis.x(hz), y(self.state.mask_db[e])));
                peaks.push(pos2(axis.x(hz), y(self.state.mask_peak[e].db)));
            }
        }

        if let Some(limit) = self.limit_db {
            let yy = y(-limit);
            if limit > 0.0 && -limit > MASK_FLOOR_DB {
                painter.add(Shape::dashed_line(&[pos2(plot.left(), yy), pos2(plot.right(), yy)], Stroke::new(1.5, theme::WARM), 6.0, 4.0));
                painter.text(pos2(plot.left() + 6.0, yy - 3.0), Align2::LEFT_BOTTOM, format!("limit −{limit:.0} dB"), FontId::proportional(11.0), theme::WARM);
            }
        }

        painter.add(fill_between(&curve, plot.top(), theme::REMOVED_TOP, theme::REMOVED_CURVE, true));
        painter.add(fill_between(&curve, plot.bottom(), theme::KEPT_CURVE, theme::KEPT_BOTTOM, false));
        painter.add(Shape::line(peaks, Stroke::new(1.2, theme::PEAK)));
        painter.add(Shape::line(curve, Stroke::new(2.2, theme::ACCENT)));

        painter.rect_stroke(plot, 0.0, Stroke::new(1.0, theme::BORDER), StrokeKind::Outside);

        if let Some(word) = self.inactive {
            painter.rect_filled(plot, 0.0, Color32::from_black_alpha(150));
            painter.text(plot.center(), Align2::CENTER_CENTER, word, FontId::proportional(22.0), theme::WARN);
        }
    }
}

/// Mean over about 1/20 octave around bin `b`: on a log axis the top octave packs 80 bins into
/// a few pixels, and their bin-to-bin scatter would read as noise rather than as the mask.
fn octave_smoothed(b: usize, last: usize, value: impl Fn(usize) -> f32) -> f32 {
    let half = (b as f32 * 0.035) as usize;
    let (lo, hi) = (b.saturating_sub(half).max(1), (b + half).min(last));
    (lo..=hi).map(&value).sum::<f32>() / (hi - lo + 1) as f32
}

/// Right-aligned key for the plot's colours, ending at `right_center`.
fn legend(painter: &Painter, right_center: Pos2) {
    let font = FontId::proportional(12.0);
    let mut x = right_center.x;
    let y = right_center.y;
    for (label, color, line) in [("recent peak", theme::PEAK, true), ("removed", theme::WARM, false), ("kept", theme::ACCENT, false)] {
        let r = painter.text(pos2(x, y), Align2::RIGHT_CENTER, label, font.clone(), theme::TEXT_DIM);
        let swatch = Rect::from_center_size(pos2(r.left() - 10.0, y), vec2(12.0, if line { 2.0 } else { 10.0 }));
        painter.rect_filled(swatch, 2.0, color);
        x = swatch.left() - 14.0;
    }
}

/// Area between a polyline and a horizontal line, as a mesh (the area is not convex), shaded
/// from `edge_color` at `edge_y` to `curve_color` at the curve (or the other way round).
fn fill_between(curve: &[Pos2], edge_y: f32, a: Color32, b: Color32, edge_is_a: bool) -> Shape {
    let mut mesh = Mesh::default();
    let (edge_c, curve_c) = if edge_is_a { (a, b) } else { (b, a) };
    for (i, p) in curve.iter().enumerate() {
        mesh.colored_vertex(*p, curve_c);
        mesh.colored_vertex(pos2(p.x, edge_y), edge_c);
        if i > 0 {
            let k = (i as u32) * 2;
            mesh.add_triangle(k - 2, k - 1, k);
            mesh.add_triangle(k - 1, k + 1, k);
        }
    }
    Shape::mesh(mesh)
}

/// One vertical bar meter with a held peak and its value written underneath.
pub struct LevelBar<'a> {
    pub label: &'a str,
    pub value_db: f32,
    pub peak_db: f32,
    pub floor_db: f32,
    /// Grows down from 0 dB (gain reduction) instead of up from the floor.
    pub from_top: bool,
}

impl LevelBar<'_> {
    pub fn paint(&self, painter: &Painter, rect: Rect) {
        let label_h = 20.0;
        let value_h = 22.0;
        let bar = Rect::from_min_max(pos2(rect.center().x - 9.0, rect.top() + label_h), pos2(rect.center().x + 9.0, rect.bottom() - value_h));
        painter.text(pos2(rect.center().x, rect.top() + 2.0), Align2::CENTER_TOP, self.label, FontId::proportional(12.0), theme::TEXT_DIM);
        painter.rect_filled(bar, 3.0, theme::PLOT_BG);
        let frac = |db: f32| ((db - self.floor_db) / -self.floor_db).clamp(0.0, 1.0);
        let y_of = |db: f32| bar.bottom() - bar.height() * frac(db);

        if self.from_top {
            let y = y_of(self.value_db);
            if y > bar.top() + 0.5 {
                painter.rect_filled(Rect::from_min_max(bar.min, pos2(bar.right(), y)), 3.0, theme::WARM);
            }
            let py = y_of(self.peak_db);
            painter.line_segment([pos2(bar.left(), py), pos2(bar.right(), py)], Stroke::new(2.0, theme::lighten(theme::WARM)));
        } else {
            // Colour by zone so a glance tells healthy, hot and clipping apart.
            for (lo, hi, color) in [(self.floor_db, -18.0, theme::ACCENT), (-18.0, -6.0, theme::CAUTION), (-6.0, 0.0, theme::DANGER)] {
                let top = self.value_db.min(hi);
                if top > lo {
                    painter.rect_filled(Rect::from_min_max(pos2(bar.left(), y_of(top)), pos2(bar.right(), y_of(lo))), 2.0, color);
                }
            }
            if self.peak_db > self.floor_db {
                let py = y_of(self.peak_db);
                painter.line_segment([pos2(bar.left(), py), pos2(bar.right(), py)], Stroke::new(2.0, theme::TEXT));
            }
        }
        painter.rect_stroke(bar, 3.0, Stroke::new(1.0, theme::BORDER), StrokeKind::Outside);

        let shown = if self.from_top { self.value_db } else { self.peak_db };
        let text = if !self.from_top && shown <= self.floor_db + 0.05 { "−∞".to_string() } else { format!("{shown:.1}").replace('-', "−") };
        painter.text(pos2(rect.center().x, rect.bottom() - value_h * 0.5 + 2.0), Align2::CENTER_CENTER, text, FontId::proportional(12.0), theme::TEXT);
    }
}

/// The scale beside a bar, in dB; `left_of_bar` right-aligns the numbers against the bar.
pub fn paint_scale(painter: &Painter, rect: Rect, floor_db: f32, step: f32, left_of_bar: bool) {
    let top = rect.top() + 20.0;
    let bottom = rect.bottom() - 22.0;
    let (x, align) = if left_of_bar { (rect.right(), Align2::RIGHT_CENTER) } else { (rect.left(), Align2::LEFT_CENTER) };
    let mut db = 0.0;
    while db >= floor_db - 0.01 {
        let y = bottom - (bottom - top) * (db - floor_db) / -floor_db;
        painter.text(pos2(x, y), align, format!("{db:.0}"), FontId::proportional(10.0), theme::TEXT_FAINT);
        db -= step;
    }
}

/// Input and output levels on one dBFS scale, the reduction on its own scale beside them.
pub fn paint_levels(painter: &Painter, rect: Rect, state: &MeterState) {
    painter.rect_filled(rect, 8.0, theme::PANEL);
    let inner = rect.shrink2(vec2(6.0, 8.0));
    // Units across: scale, IN, OUT, gap, REDUCTION, scale.
    let u = inner.width() / 4.9;
    let at = |start: f32, width: f32| Rect::from_min_size(pos2(inner.left() + u * start, inner.top()), vec2(u * width, inner.height()));
    paint_scale(painter, at(0.0, 0.75), LEVEL_FLOOR_DB, 12.0, true);
    LevelBar { label: "IN", value_db: state.input_db, peak_db: state.input_peak.db, floor_db: LEVEL_FLOOR_DB, from_top: false }.paint(painter, at(0.8, 1.0));
    LevelBar { label: "OUT", value_db: state.output_db, peak_db: state.output_peak.db, floor_db: LEVEL_FLOOR_DB, from_top: false }.paint(painter, at(1.8, 1.0));
    let sep = inner.left() + u * 3.0;
    painter.line_segment([pos2(sep, inner.top() + 20.0), pos2(sep, inner.bottom() - 22.0)], Stroke::new(1.0, theme::BORDER));
    LevelBar { label: "CUT", value_db: state.reduction_db, peak_db: state.reduction_peak.db, floor_db: REDUCTION_FLOOR_DB, from_top: true }
        .paint(painter, at(3.1, 1.0));
    paint_scale(painter, at(4.15, 0.75), REDUCTION_FLOOR_DB, 10.0, false);
}
