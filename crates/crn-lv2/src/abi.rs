//! The LV2 core C interface (`lv2/core/lv2.h`), by hand: a plugin without atoms, URIDs or a UI
//! needs only the descriptor, far less than the Rust LV2 crates (rust-lv2) bring along.
//! `tests::layout_matches_lv2_h` compiles a C file against the system's header and checks it.

use std::os::raw::{c_char, c_void};

pub type Handle = *mut c_void;

#[repr(C)]
pub struct Feature {
    pub uri: *const c_char,
    pub data: *mut c_void,
}

#[repr(C)]
pub struct Descriptor {
    pub uri: *const c_char,
    pub instantiate: unsafe extern "C" fn(*const Descriptor, f64, *const c_char, *const *const Feature) -> Handle,
    pub connect_port: unsafe extern "C" fn(Handle, u32, *mut c_void),
    pub activate: Option<unsafe extern "C" fn(Handle)>,
    pub run: unsafe extern "C" fn(Handle, u32),
    pub deactivate: Option<unsafe extern "C" fn(Handle)>,
    pub cleanup: unsafe extern "C" fn(Handle),
    pub extension_data: unsafe extern "C" fn(*const c_char) -> *const c_void,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Compiles and runs a C program that prints the header's sizes and offsets and compares
    /// them with this module (needs a C compiler and lv2-dev's headers).
    #[test]
    fn layout_matches_lv2_h() {
        let dir = std::env::temp_dir().join(format!("crn-lv2-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = dir.join("layout.c");
        let fields = ["URI", "instantiate", "connect_port", "activate", "run", "deactivate", "cleanup", "extension_data"];
        let mut src = String::from("#include <stdio.h>\n#include <stddef.h>\n#include <lv2/core/lv2.h>\nint main(void) {\n");
        src += "printf(\"%zu %zu %zu %zu\\n\", sizeof(LV2_Descriptor), sizeof(LV2_Feature), offsetof(LV2_Feature, URI), offsetof(LV2_Feature, data));\n";
        for f in fields {
            src += &format!("printf(\"%zu \", offsetof(LV2_Descriptor, {f}));\n");
        }
        src += "return 0; }\n";
        std::fs::write(&c, src).unwrap();
        let exe = dir.join("layout");
        let status = std::process::Command::new("cc").arg(&c).arg("-o").arg(&exe).status().expect("no C compiler (cc)");
        assert!(status.success(), "cannot compile against lv2/core/lv2.h (apt-get install lv2-dev)");
        let out = String::from_utf8(std::process::Command::new(&exe).output().unwrap().stdout).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let lines: Vec<Vec<usize>> = out.lines().map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect()).collect();
        type D = Descriptor;
        assert_eq!(lines[0], [size_of::<D>(), size_of::<Feature>(), offset_of!(Feature, uri), offset_of!(Feature, data)]);
        assert_eq!(
            lines[1],
            [
                offset_of!(D, uri),
                offset_of!(D, instantiate),
                offset_of!(D, connect_port),
                offset_of!(D, activate),
                offset_of!(D, run),
                offset_of!(D, deactivate),
                offset_of!(D, cleanup),
                offset_of!(D, extension_data)
            ]
        );
    }
}
