//! The LADSPA 1.1 C interface (`ladspa.h`), by hand: it is small, frozen since 2002, and no
//! maintained crate provides it. `tests::layout_matches_ladspa_h` compiles a C file against the
//! system's header and checks every size and offset here.

use std::os::raw::{c_char, c_int, c_ulong, c_void};

pub type Data = f32;
pub type Handle = *mut c_void;

pub const PROPERTY_HARD_RT_CAPABLE: c_int = 0x4;

pub const PORT_INPUT: c_int = 0x1;
pub const PORT_OUTPUT: c_int = 0x2;
pub const PORT_CONTROL: c_int = 0x4;
pub const PORT_AUDIO: c_int = 0x8;

pub const HINT_BOUNDED_BELOW: c_int = 0x1;
pub const HINT_BOUNDED_ABOVE: c_int = 0x2;
pub const HINT_TOGGLED: c_int = 0x4;
pub const HINT_INTEGER: c_int = 0x20;
pub const HINT_DEFAULT_MINIMUM: c_int = 0x40;
pub const HINT_DEFAULT_LOW: c_int = 0x80;
pub const HINT_DEFAULT_MIDDLE: c_int = 0xC0;
pub const HINT_DEFAULT_HIGH: c_int = 0x100;
pub const HINT_DEFAULT_MAXIMUM: c_int = 0x140;
pub const HINT_DEFAULT_0: c_int = 0x200;
pub const HINT_DEFAULT_1: c_int = 0x240;
pub const HINT_DEFAULT_100: c_int = 0x280;
pub const HINT_DEFAULT_440: c_int = 0x2C0;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PortRangeHint {
    pub hint_descriptor: c_int,
    pub lower_bound: Data,
    pub upper_bound: Data,
}

#[repr(C)]
pub struct Descriptor {
    pub unique_id: c_ulong,
    pub label: *const c_char,
    pub properties: c_int,
    pub name: *const c_char,
    pub maker: *const c_char,
    pub copyright: *const c_char,
    pub port_count: c_ulong,
    pub port_descriptors: *const c_int,
    pub port_names: *const *const c_char,
    pub port_range_hints: *const PortRangeHint,
    pub implementation_data: *mut c_void,
    pub instantiate: unsafe extern "C" fn(*const Descriptor, c_ulong) -> Handle,
    pub connect_port: unsafe extern "C" fn(Handle, c_ulong, *mut Data),
    pub activate: Option<unsafe extern "C" fn(Handle)>,
    pub run: unsafe extern "C" fn(Handle, c_ulong),
    pub run_adding: Option<unsafe extern "C" fn(Handle, c_ulong)>,
    pub set_run_adding_gain: Option<unsafe extern "C" fn(Handle, Data)>,
    pub deactivate: Option<unsafe extern "C" fn(Handle)>,
    pub cleanup: unsafe extern "C" fn(Handle),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Compiles and runs a C program that prints the header's sizes, offsets and constants,
    /// and compares them with this module (needs a C compiler and ladspa-sdk's ladspa.h).
    #[test]
    fn layout_matches_ladspa_h() {
        let dir = std::env::temp_dir().join(format!("crn-ladspa-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = dir.join("layout.c");
        let fields = ["UniqueID", "Label", "Properties", "Name", "Maker", "Copyright", "PortCount", "PortDescriptors", "PortNames", "PortRangeHints", "ImplementationData", "instantiate", "connect_port", "activate", "run", "run_adding", "set_run_adding_gain", "deactivate", "cleanup"];
        let mut src = String::from("#include <stdio.h>\n#include <stddef.h>\n#include <ladspa.h>\nint main(void) {\n");
        src += "printf(\"%zu %zu %zu %zu %zu\\n\", sizeof(LADSPA_Descriptor), sizeof(LADSPA_PortRangeHint), offsetof(LADSPA_PortRangeHint, HintDescriptor), offsetof(LADSPA_PortRangeHint, LowerBound), offsetof(LADSPA_PortRangeHint, UpperBound));\n";
        for f in fields {
            src += &format!("printf(\"%zu \", offsetof(LADSPA_Descriptor, {f}));\n");
        }
        src += "printf(\"\\n%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\\n\", LADSPA_PROPERTY_HARD_RT_CAPABLE, LADSPA_PORT_INPUT, LADSPA_PORT_OUTPUT, LADSPA_PORT_CONTROL, LADSPA_PORT_AUDIO, LADSPA_HINT_BOUNDED_BELOW, LADSPA_HINT_BOUNDED_ABOVE, LADSPA_HINT_TOGGLED, LADSPA_HINT_INTEGER, LADSPA_HINT_DEFAULT_MINIMUM, LADSPA_HINT_DEFAULT_LOW, LADSPA_HINT_DEFAULT_MIDDLE, LADSPA_HINT_DEFAULT_HIGH, LADSPA_HINT_DEFAULT_MAXIMUM, LADSPA_HINT_DEFAULT_0, LADSPA_HINT_DEFAULT_1, LADSPA_HINT_DEFAULT_100, LADSPA_HINT_DEFAULT_440);\nreturn 0; }\n";
        std::fs::write(&c, src).unwrap();
        let exe = dir.join("layout");
        let status = std::process::Command::new("cc").arg(&c).arg("-o").arg(&exe).status().expect("no C compiler (cc)");
        assert!(status.success(), "cannot compile against ladspa.h (apt-get install ladspa-sdk)");
        let out = String::from_utf8(std::process::Command::new(&exe).output().unwrap().stdout).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let lines: Vec<Vec<i64>> = out.lines().map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect()).collect();
        type D = Descriptor;
        let sizes = [size_of::<D>(), size_of::<PortRangeHint>(), offset_of!(PortRangeHint, hint_descriptor), offset_of!(PortRangeHint, lower_bound), offset_of!(PortRangeHint, upper_bound)];
        let offsets = [
            offset_of!(D, unique_id), offset_of!(D, label), offset_of!(D, properties), offset_of!(D, name), offset_of!(D, maker),
            offset_of!(D, copyright), offset_of!(D, port_count), offset_of!(D, port_descriptors), offset_of!(D, port_names),
            offset_of!(D, port_range_hints), offset_of!(D, implementation_data), offset_of!(D, instantiate), offset_of!(D, connect_port),
            offset_of!(D, activate), offset_of!(D, run), offset_of!(D, run_adding), offset_of!(D, set_run_adding_gain),
            offset_of!(D, deactivate), offset_of!(D, cleanup),
        ];
        let constants = [
            PROPERTY_HARD_RT_CAPABLE, PORT_INPUT, PORT_OUTPUT, PORT_CONTROL, PORT_AUDIO, HINT_BOUNDED_BELOW,
            HINT_BOUNDED_ABOVE, HINT_TOGGLED, HINT_INTEGER, HINT_DEFAULT_MINIMUM, HINT_DEFAULT_LOW, HINT_DEFAULT_MIDDLE,
            HINT_DEFAULT_HIGH, HINT_DEFAULT_MAXIMUM, HINT_DEFAULT_0, HINT_DEFAULT_1, HINT_DEFAULT_100, HINT_DEFAULT_440,
        ];
        assert_eq!(lines[0], sizes.map(|x| x as i64), "sizes");
        assert_eq!(lines[1], offsets.map(|x| x as i64), "offsets");
        assert_eq!(lines[2], constants.map(|x| x as i64), "constants");
    }
}
