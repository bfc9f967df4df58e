//! Colours and text sizes. Dark, because the editor sits next to a DAW's dark mixer for hours.

use egui::{Color32, FontFamily, FontId, Style, TextStyle, Visuals};

pub const BG: Color32 = Color32::from_rgb(0x14, 0x17, 0x1c);
pub const PANEL: Color32 = Color32::from_rgb(0x1b, 0x1f, 0x26);
pub const PLOT_BG: Color32 = Color32::from_rgb(0x10, 0x13, 0x18);
pub const BORDER: Color32 = Color32::from_rgb(0x2c, 0x32, 0x3c);
pub const GRID: Color32 = Color32::from_rgb(0x1f, 0x24, 0x2c);
pub const GRID_MAJOR: Color32 = Color32::from_rgb(0x2d, 0x34, 0x3f);
pub const TRACK: Color32 = Color32::from_rgb(0x2e, 0x34, 0x3e);

pub const TEXT: Color32 = Color32::from_rgb(0xe8, 0xeb, 0xf0);
pub const TEXT_DIM: Color32 = Color32::from_rgb(0x96, 0x9f, 0xae);
pub const TEXT_FAINT: Color32 = Color32::from_rgb(0x5f, 0x68, 0x76);
pub const ON_TEXT: Color32 = Color32::from_rgb(0x0c, 0x10, 0x14);

/// What the model keeps (speech).
pub const ACCENT: Color32 = Color32::from_rgb(0x3d, 0xdb, 0xb0);
/// What the model removes, and the limit on it.
pub const WARM: Color32 = Color32::from_rgb(0xff, 0x8f, 0x4f);
pub const GAIN: Color32 = Color32::from_rgb(0x7a, 0xa7, 0xff);
pub const CAUTION: Color32 = Color32::from_rgb(0xf2, 0xc9, 0x4c);
pub const DANGER: Color32 = Color32::from_rgb(0xff, 0x55, 0x55);
pub const WARN: Color32 = Color32::from_rgb(0xff, 0xb3, 0x47);
pub const BYPASS: Color32 = Color32::from_rgb(0xe5, 0x48, 0x4d);

pub const KEPT_CURVE: Color32 = Color32::from_rgba_unmultiplied_const(0x3d, 0xdb, 0xb0, 0x50);
pub const KEPT_BOTTOM: Color32 = Color32::from_rgba_unmultiplied_const(0x3d, 0xdb, 0xb0, 0x06);
pub const REMOVED_TOP: Color32 = Color32::from_rgba_unmultiplied_const(0xff, 0x8f, 0x4f, 0x58);
pub const REMOVED_CURVE: Color32 = Color32::from_rgba_unmultiplied_const(0xff, 0x8f, 0x4f, 0x18);
pub const PEAK: Color32 = Color32::from_rgba_unmultiplied_const(0xd0, 0xd6, 0xe0, 0x80);

pub const KNOB_BODY: Color32 = Color32::from_rgb(0x26, 0x2b, 0x34);
pub const KNOB_BODY_HOVER: Color32 = Color32::from_rgb(0x2e, 0x34, 0x3f);
pub const KNOB_RIM: Color32 = Color32::from_rgb(0x3a, 0x41, 0x4d);
pub const FIELD_HOVER: Color32 = Color32::from_rgb(0x24, 0x29, 0x31);
pub const BUTTON_OFF: Color32 = Color32::from_rgb(0x23, 0x28, 0x30);
pub const BUTTON_OFF_HOVER: Color32 = Color32::from_rgb(0x2c, 0x32, 0x3c);

pub fn lighten(c: Color32) -> Color32 {
    let f = |v: u8| v.saturating_add(((255 - v) as f32 * 0.25) as u8);
    Color32::from_rgba_premultiplied(f(c.r()), f(c.g()), f(c.b()), c.a())
}

pub fn apply(ctx: &egui::Context) {
    let mut style = Style { visuals: Visuals::dark(), ..Style::default() };
    style.visuals.panel_fill = BG;
    style.visuals.window_fill = PANEL;
    style.visuals.extreme_bg_color = PLOT_BG;
    style.visuals.override_text_color = Some(TEXT);
    style.visuals.selection.bg_fill = Color32::from_rgb(0x1f, 0x6f, 0x5a);
    style.visuals.selection.stroke.color = ACCENT;
    style.visuals.text_cursor.stroke.color = ACCENT;
    style.text_styles = [
        (TextStyle::Heading, FontId::new(22.0, FontFamily::Proportional)),
        (TextStyle::Body, FontId::new(15.0, FontFamily::Proportional)),
        (TextStyle::Button, FontId::new(15.0, FontFamily::Proportional)),
        (TextStyle::Small, FontId::new(12.0, FontFamily::Proportional)),
        (TextStyle::Monospace, FontId::new(14.0, FontFamily::Monospace)),
    ]
    .into();
    // Both slots, so a host or desktop in light mode still gets this look.
    ctx.all_styles_mut(|s| *s = style.clone());
}
