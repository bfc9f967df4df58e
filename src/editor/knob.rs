//! A rotary knob and a toggle button for host parameters, painted with egui's painter.
//!
//! Every change goes through `ParamSetter` as a begin/set/end gesture, so the host records
//! automation and gives one undo step per gesture.

use std::f32::consts::PI;

use egui::text::{CCursor, CCursorRange};
use egui::{pos2, vec2, Align2, Color32, CursorIcon, Event, FontId, Id, Key, Pos2, Rect, Response, Sense, Shape, Stroke, StrokeKind, TextEdit, Ui};
use nice_plug::prelude::{BoolParam, Enum, EnumParam, Param, ParamSetter};

use super::theme;

/// Pixels of vertical drag for the whole range; long enough for 1 % steps on a laptop pad.
const DRAG_PIXELS_FULL_RANGE: f32 = 220.0;
/// Fine mode is ten times slower, enough to land on every 0.1 dB of the gain knob.
const FINE_FACTOR: f32 = 0.1;
/// The arc runs from bottom-left clockwise to bottom-right, leaving the gap at the bottom.
const START_ANGLE: f32 = 0.75 * PI;
const SWEEP: f32 = 1.5 * PI;

pub struct Knob<'a, P: Param> {
    param: &'a P,
    setter: &'a ParamSetter<'a>,
    label: &'a str,
    /// The arc grows from the centre (the default) instead of from the minimum.
    bipolar: bool,
    color: Color32,
}

impl<'a, P: Param> Knob<'a, P> {
    pub fn new(param: &'a P, setter: &'a ParamSetter<'a>, label: &'a str) -> Self {
        Self { param, setter, label, bipolar: false, color: theme::ACCENT }
    }

    pub fn bipolar(mut self) -> Self {
        self.bipolar = true;
        self
    }

    pub fn color(mut self, color: Color32) -> Self {
        self.color = color;
        self
    }

    /// Lays out title, dial and value text inside `rect` (the value text is an editor on click).
    pub fn show(self, ui: &mut Ui, rect: Rect) -> Response {
        let id = ui.scope_id().with(("knob", self.param.name()));
        let title_h = 20.0;
        let value_h = 26.0;
        let dial_space = Rect::from_min_max(pos2(rect.left(), rect.top() + title_h), pos2(rect.right(), rect.bottom() - value_h));
        let radius = (dial_space.width().min(dial_space.height()) * 0.5 - 4.0).max(12.0);
        let center = dial_space.center();
        let dial_rect = Rect::from_center_size(center, vec2(radius * 2.0, radius * 2.0));

        ui.painter().text(
            pos2(rect.center().x, rect.top() + title_h * 0.5),
            Align2::CENTER_CENTER,
            self.label.to_uppercase(),
            FontId::proportional(13.0),
            theme::TEXT_DIM,
        );

        let response = ui
            .interact(dial_rect, id, Sense::click_and_drag())
            .on_hover_cursor(CursorIcon::ResizeVertical)
            .on_hover_text("Drag up/down · Shift or Ctrl: fine · double-click: default · wheel: step");
        self.handle_drag(ui, id, &response);
        self.handle_wheel(ui, &response);
        if response.double_clicked() {
            self.gesture(self.param.default_normalized_value());
        }

        self.paint(ui, center, radius, &response);

        let value_rect = Rect::from_center_size(pos2(rect.center().x, rect.bottom() - value_h * 0.5), vec2(rect.width().min(120.0), value_h - 2.0));
        self.value_entry(ui, id, value_rect);
        response
    }

    fn set(&self, normalized: f32) {
        // Snap through the plain value so stepped parameters land on a step and the host's
        // normalized value matches the parameter's.
        let snapped = self.param.preview_normalized(self.param.preview_plain(normalized.clamp(0.0, 1.0)));
        if snapped != self.param.unmodulated_normalized_value() {
            self.setter.set_parameter_normalized(self.param, snapped);
        }
    }

    /// A complete one-shot change (reset, wheel notch, typed value).
    fn gesture(&self, normalized: f32) {
        self.setter.begin_set_parameter(self.param);
        self.set(normalized);
        self.setter.end_set_parameter(self.param);
    }

    fn handle_drag(&self, ui: &Ui, id: Id, response: &Response) {
        // The unsnapped position is kept across frames: re-reading the snapped value each frame
        // would never get past a step in fine mode.
        let acc_id = id.with("drag_acc");
        if response.drag_started() {
            self.setter.begin_set_parameter(self.param);
            ui.data_mut(|d| d.insert_temp(acc_id, self.param.unmodulated_normalized_value()));
        }
        if response.dragged() {
            let fine = ui.input(|i| i.modifiers.shift || i.modifiers.ctrl || i.modifiers.command);
            let scale = if fine { FINE_FACTOR } else { 1.0 } / DRAG_PIXELS_FULL_RANGE;
            let dy = response.drag_delta().y;
            if dy != 0.0 {
                let acc = ui.data(|d| d.get_temp::<f32>(acc_id)).unwrap_or_else(|| self.param.unmodulated_normalized_value());
                let acc = (acc - dy * scale).clamp(0.0, 1.0);
                ui.data_mut(|d| d.insert_temp(acc_id, acc));
                self.set(acc);
            }
        }
        if response.drag_stopped() {
            self.setter.end_set_parameter(self.param);
            ui.data_mut(|d| d.remove::<f32>(acc_id));
        }
    }

    fn handle_wheel(&self, ui: &Ui, response: &Response) {
        if !response.hovered() {
            return;
        }
        // Raw wheel events: egui turns Ctrl+wheel into zoom, and one notch should be one step
        // whatever the platform's lines-to-points factor is.
        let (notches, fine) = ui.input(|i| {
            let mut n = 0.0;
            for e in &i.events {
                if let Event::MouseWheel { delta, .. } = e {
                    n += if delta.y != 0.0 { delta.y.signum() } else { 0.0 };
                }
            }
            (n, i.modifiers.shift || i.modifiers.ctrl || i.modifiers.command)
        });
        if notches == 0.0 {
            return;
        }
        let mut v = self.param.unmodulated_normalized_value();
        let steps = notches.abs() as usize;
        for _ in 0..steps {
            v = if notches > 0.0 { self.param.next_normalized_step(v, fine) } else { self.param.previous_normalized_step(v, fine) };
        }
        self.gesture(v);
    }

    fn paint(&self, ui: &Ui, center: Pos2, radius: f32, response: &Response) {
        let painter = ui.painter();
        let active = response.hovered() || response.dragged();
        let value = self.param.modulated_normalized_value();
        let track_r = radius - 3.0;
        let track_w = (radius * 0.11).clamp(3.0, 7.0);

        // Soft drop shadow and body, drawn under the arcs.
        painter.circle_filled(center + vec2(0.0, 2.0), radius * 0.78, Color32::from_black_alpha(90));
        painter.circle_filled(center, radius * 0.76, if active { theme::KNOB_BODY_HOVER } else { theme::KNOB_BODY });
        painter.circle_stroke(center, radius * 0.76, Stroke::new(1.0, theme::KNOB_RIM));

        painter.add(arc(center, track_r, 0.0, 1.0, Stroke::new(track_w, theme::TRACK)));
        let (from, to) = if self.bipolar { (0.5f32.min(value), 0.5f32.max(value)) } else { (0.0, value) };
        if to - from > 1e-4 {
            let color = if active { theme::lighten(self.color) } else { self.color };
            painter.add(arc(center, track_r, from, to, Stroke::new(track_w, color)));
        }

        let angle = START_ANGLE + SWEEP * value;
        let dir = vec2(angle.cos(), angle.sin());
        painter.line_segment([center + dir * radius * 0.28, center + dir * radius * 0.66], Stroke::new((radius * 0.07).clamp(2.0, 4.0), theme::TEXT));
        painter.circle_filled(center + dir * track_r, track_w * 0.55, theme::TEXT);
    }

    /// Click the value to type one; Enter or clicking away commits, Escape cancels.
    fn value_entry(&self, ui: &mut Ui, id: Id, rect: Rect) {
        let edit_id = id.with("edit");
        let text_id = id.with("edit_text");
        let editing: Option<String> = ui.data(|d| d.get_temp(text_id));
        match editing {
            None => {
                let text = display_value(self.param, self.param.modulated_normalized_value());
                let response = ui.interact(rect, id.with("value"), Sense::click()).on_hover_cursor(CursorIcon::Text).on_hover_text("Click to type a value");
                let painter = ui.painter();
                if response.hovered() {
                    painter.rect_filled(rect, 4.0, theme::FIELD_HOVER);
                }
                painter.text(rect.center(), Align2::CENTER_CENTER, text, FontId::monospace(15.0), theme::TEXT);
                if response.clicked() {
                    let initial = self.param.normalized_value_to_string(self.param.unmodulated_normalized_value(), false);
                    ui.data_mut(|d| d.insert_temp(text_id, initial.clone()));
                    ui.memory_mut(|m| m.request_focus(edit_id));
                    // Preselect everything so typing replaces the value.
                    let mut state = egui::text_edit::TextEditState::default();
                    state.cursor.set_char_range(Some(CCursorRange::two(CCursor::new(0), CCursor::new(initial.chars().count()))));
                    state.store(ui.ctx(), edit_id);
                }
            }
            Some(mut text) => {
                let output = TextEdit::singleline(&mut text)
                    .id(edit_id)
                    .font(FontId::monospace(15.0))
                    .align(Align2::CENTER_CENTER)
                    .desired_width(rect.width())
                    .show(&mut ui.new_child(egui::UiBuilder::new().max_rect(rect)));
                let (enter, escape) = ui.input(|i| (i.key_pressed(Key::Enter), i.key_pressed(Key::Escape)));
                if output.response.lost_focus() || enter || escape {
                    if !escape {
                        if let Some(n) = parse_value(self.param, &text) {
                            self.gesture(n);
                        }
                    }
                    ui.data_mut(|d| d.remove::<String>(text_id));
                    ui.memory_mut(|m| m.surrender_focus(edit_id));
                } else {
                    ui.data_mut(|d| d.insert_temp(text_id, text));
                    if !output.response.has_focus() {
                        ui.memory_mut(|m| m.request_focus(edit_id));
                    }
                }
            }
        }
    }
}

/// The parameter's own text with its unit, unless the text is a word ("no limit"), which a unit
/// would only garble.
pub fn display_value<P: Param>(param: &P, normalized: f32) -> String {
    let text = param.normalized_value_to_string(normalized, false);
    let numeric = text.trim().trim_start_matches(['+', '-']).chars().next().is_some_and(|c| c.is_ascii_digit());
    if numeric {
        format!("{text}{}", param.unit())
    } else {
        text
    }
}

/// The parameter's parser first; failing that, the words the widget itself shows at the ends of
/// the range or the default (so "no limit" can be typed back in).
pub fn parse_value<P: Param>(param: &P, text: &str) -> Option<f32> {
    if let Some(n) = param.string_to_normalized_value(text) {
        return Some(n);
    }
    let typed = text.trim();
    [0.0, 1.0, param.default_normalized_value()]
        .into_iter()
        .find(|&n| param.normalized_value_to_string(n, false).trim().eq_ignore_ascii_case(typed))
}

fn arc(center: Pos2, r: f32, from: f32, to: f32, stroke: Stroke) -> Shape {
    let a0 = START_ANGLE + SWEEP * from;
    let a1 = START_ANGLE + SWEEP * to;
    let n = ((a1 - a0).abs() * r / 3.0).ceil().max(2.0) as usize;
    let points = (0..=n)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / n as f32;
            center + vec2(a.cos(), a.sin()) * r
        })
        .collect::<Vec<_>>();
    Shape::line(points, stroke)
}

/// A latching button for a boolean parameter; lit in `on_color` when the parameter is true.
pub fn toggle(ui: &mut Ui, rect: Rect, param: &BoolParam, setter: &ParamSetter, label: &str, on_color: Color32, tooltip: &str) -> Response {
    let id = ui.scope_id().with(("toggle", param.name()));
    let response = ui.interact(rect, id, Sense::click()).on_hover_cursor(CursorIcon::PointingHand).on_hover_text(tooltip);
    if response.clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !param.value());
        setter.end_set_parameter(param);
    }
    paint_toggle(ui, rect, &response, param.value(), label, on_color);
    response
}

/// A two-way choice drawn as a toggle: lit when the parameter is `on`, else `off`.
pub fn toggle_choice<T: Enum + PartialEq + Copy + Send + Sync + 'static>(
    ui: &mut Ui,
    rect: Rect,
    param: &EnumParam<T>,
    setter: &ParamSetter,
    (on, off): (T, T),
    label: &str,
    on_color: Color32,
    tooltip: &str,
) -> Response {
    let id = ui.scope_id().with(("toggle", param.name()));
    let response = ui.interact(rect, id, Sense::click()).on_hover_cursor(CursorIcon::PointingHand).on_hover_text(tooltip);
    let lit = param.value() == on;
    if response.clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, if lit { off } else { on });
        setter.end_set_parameter(param);
    }
    paint_toggle(ui, rect, &response, param.value() == on, label, on_color);
    response
}

fn paint_toggle(ui: &Ui, rect: Rect, response: &Response, on: bool, label: &str, on_color: Color32) {
    let painter = ui.painter();
    let fill = match (on, response.hovered()) {
        (true, false) => on_color,
        (true, true) => theme::lighten(on_color),
        (false, false) => theme::BUTTON_OFF,
        (false, true) => theme::BUTTON_OFF_HOVER,
    };
    painter.rect_filled(rect, 6.0, fill);
    painter.rect_stroke(rect, 6.0, Stroke::new(1.0, if on { theme::lighten(on_color) } else { theme::BORDER }), StrokeKind::Inside);
    // A small lamp keeps the state readable for colour-blind users.
    let lamp = pos2(rect.left() + 14.0, rect.center().y);
    painter.circle_filled(lamp, 4.0, if on { theme::TEXT } else { theme::TRACK });
    painter.text(
        pos2(rect.center().x + 7.0, rect.center().y),
        Align2::CENTER_CENTER,
        label,
        FontId::proportional(14.0),
        if on { theme::ON_TEXT } else { theme::TEXT },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::CrnParams;

    fn close(a: Option<f32>, b: f32) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-4)
    }

    #[test]
    fn shown_text_can_be_typed_back() {
        let p = CrnParams::default();
        assert_eq!(display_value(&p.attenuation_limit, 1.0), "no limit");
        assert!(close(parse_value(&p.attenuation_limit, "No Limit"), 1.0));
        assert!(close(parse_value(&p.attenuation_limit, "12"), 0.12));
        assert_eq!(display_value(&p.attenuation_limit, 0.3), "30.0 dB");
        assert_eq!(display_value(&p.mix, 0.5), "50 %");
        assert!(close(parse_value(&p.mix, "25%"), 0.25));
        assert_eq!(display_value(&p.output_gain, p.output_gain.preview_normalized(-3.0)), "-3.0 dB");
        assert!(close(parse_value(&p.output_gain, "6 dB"), p.output_gain.preview_normalized(6.0)));
        assert!(parse_value(&p.mix, "loud").is_none());
    }
}
