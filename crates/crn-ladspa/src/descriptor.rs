//! The LADSPA descriptors, made once from the shared port table (`crn_live::ports`).

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_ulong, c_void};
use std::sync::OnceLock;

use crn_live::{Port, PortKind, Variant, VARIANTS};

use crate::abi::*;

/// One plugin's descriptor and the memory its pointers point into (moving a `Vec` or a
/// `CString` does not move its heap data, so the pointers stay valid).
pub struct Plugin {
    pub descriptor: Descriptor,
    _strings: Vec<CString>,
    _names: Vec<*const c_char>,
    _port_descriptors: Vec<c_int>,
    _hints: Vec<PortRangeHint>,
}

// Read-only after construction; hosts may query descriptors from any thread.
unsafe impl Send for Plugin {}
unsafe impl Sync for Plugin {}

/// The `LADSPA_HINT_DEFAULT_*` that gives `default` for a port ranging `min..max`, if any does
/// exactly (LADSPA can only state fixed points of the range, or 0, 1, 100 and 440).
pub fn default_hint(min: f32, max: f32, default: f32) -> Option<c_int> {
    [
        (HINT_DEFAULT_MINIMUM, min),
        (HINT_DEFAULT_MAXIMUM, max),
        (HINT_DEFAULT_0, 0.0),
        (HINT_DEFAULT_1, 1.0),
        (HINT_DEFAULT_100, 100.0),
        (HINT_DEFAULT_440, 440.0),
        (HINT_DEFAULT_LOW, min * 0.75 + max * 0.25),
        (HINT_DEFAULT_MIDDLE, min * 0.5 + max * 0.5),
        (HINT_DEFAULT_HIGH, min * 0.25 + max * 0.75),
    ]
    .into_iter()
    .find(|&(_, v)| v == default)
    .map(|(h, _)| h)
}

pub fn port_descriptor(p: &Port) -> c_int {
    let dir = if p.is_input() { PORT_INPUT } else { PORT_OUTPUT };
    dir | if p.is_audio() { PORT_AUDIO } else { PORT_CONTROL }
}

pub fn range_hint(p: &Port) -> PortRangeHint {
    let PortKind::Control { min, max, default, toggled, integer, .. } = p.kind else {
        return PortRangeHint { hint_descriptor: 0, lower_bound: 0.0, upper_bound: 0.0 };
    };
    // Output ports have no default; a toggle may carry nothing but its default (ladspa.h).
    let default = if p.is_input() { default_hint(min, max, default).unwrap_or(0) } else { 0 };
    let hint = if toggled {
        HINT_TOGGLED | if default != 0 { if p.default() > 0.5 { HINT_DEFAULT_1 } else { HINT_DEFAULT_0 } } else { 0 }
    } else {
        HINT_BOUNDED_BELOW | HINT_BOUNDED_ABOVE | if integer { HINT_INTEGER } else { 0 } | default
    };
    PortRangeHint { hint_descriptor: hint, lower_bound: min, upper_bound: max }
}

fn cstring(s: &str) -> CString {
    CString::new(s).expect("names in the port table have no NUL")
}

fn make(index: usize, v: &Variant) -> Plugin {
    let ports = v.ports();
    let mut strings = vec![cstring(v.label), cstring(v.name), cstring("crn-denoise"), cstring("MIT")];
    strings.extend(ports.iter().map(|p| cstring(p.name)));
    let names: Vec<*const c_char> = strings[4..].iter().map(|s| s.as_ptr()).collect();
    let port_descriptors: Vec<c_int> = ports.iter().map(port_descriptor).collect();
    let hints: Vec<PortRangeHint> = ports.iter().map(range_hint).collect();
    let descriptor = Descriptor {
        unique_id: v.ladspa_id as c_ulong,
        label: strings[0].as_ptr(),
        // Not LADSPA_PROPERTY_REALTIME: that means "depends on real time" (a MIDI device) and
        // keeps offline hosts such as applyplugin from rendering with it.
        properties: PROPERTY_HARD_RT_CAPABLE,
        name: strings[1].as_ptr(),
        maker: strings[2].as_ptr(),
        copyright: strings[3].as_ptr(),
        port_count: ports.len() as c_ulong,
        port_descriptors: port_descriptors.as_ptr(),
        port_names: names.as_ptr(),
        port_range_hints: hints.as_ptr(),
        // Which variant: an index into `VARIANTS`, not a pointer.
        implementation_data: index as *mut c_void,
        instantiate: crate::instantiate,
        connect_port: crate::connect_port,
        activate: Some(crn_live::handle::activate),
        run: crate::run,
        run_adding: None,
        set_run_adding_gain: None,
        deactivate: None,
        cleanup: crn_live::handle::cleanup,
    };
    Plugin { descriptor, _strings: strings, _names: names, _port_descriptors: port_descriptors, _hints: hints }
}

pub fn plugins() -> &'static [Plugin] {
    static PLUGINS: OnceLock<Vec<Plugin>> = OnceLock::new();
    PLUGINS.get_or_init(|| VARIANTS.iter().enumerate().map(|(i, v)| make(i, v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input control's default from the table is one LADSPA can state exactly: hosts
    /// start from the engine's defaults.
    #[test]
    fn every_default_is_stated_exactly() {
        for v in VARIANTS {
            for p in v.ports().iter().filter(|p| p.is_input() && !p.is_audio()) {
                let PortKind::Control { min, max, default, .. } = p.kind else { unreachable!() };
                assert!(default_hint(min, max, default).is_some(), "{}: {} default {default} in {min}..{max}", v.label, p.symbol);
            }
        }
        assert_eq!(default_hint(0.0, 120.0, 30.0), Some(HINT_DEFAULT_LOW));
        assert_eq!(default_hint(0.0, 100.0, 30.0), None);
    }

    #[test]
    fn descriptors_point_at_their_ports() {
        let plugins = plugins();
        assert_eq!(plugins.len(), VARIANTS.len());
        for (p, v) in plugins.iter().zip(VARIANTS) {
            let d = &p.descriptor;
            assert_eq!(d.port_count as usize, v.ports().len());
            let label = unsafe { std::ffi::CStr::from_ptr(d.label) }.to_str().unwrap();
            assert_eq!(label, v.label);
            for (i, port) in v.ports().iter().enumerate() {
                let name = unsafe { std::ffi::CStr::from_ptr(*d.port_names.add(i)) }.to_str().unwrap();
                assert_eq!(name, port.name);
                assert_eq!(unsafe { *d.port_descriptors.add(i) }, port_descriptor(port));
            }
        }
    }
}
