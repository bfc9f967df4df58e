//! `crn_denoise.lv2`: the denoiser as LV2 plugins, the same four as the LADSPA library (mono,
//! stereo, each at 30 ms and at 20 ms "live") with the same ports (`crn_live::ports`); the
//! delay is reported on the `latency` port (lv2:reportsLatency). [`ttl`] writes the bundle's
//! Turtle from that table.
//!
//! Nothing here may take a host down: every entry point catches panics (`crn_live::handle`), a
//! null handle is ignored, and a missing model or ONNX Runtime makes a passthrough with the same delay.

mod abi;
pub mod ttl;

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::catch_unwind;
use std::sync::OnceLock;

use crn_live::{handle, VARIANTS};

use abi::{Descriptor, Feature, Handle};

struct Plugin {
    descriptor: Descriptor,
    _uri: CString,
}

// Read-only after construction; hosts may query descriptors from any thread.
unsafe impl Send for Plugin {}
unsafe impl Sync for Plugin {}

fn plugins() -> &'static [Plugin] {
    static PLUGINS: OnceLock<Vec<Plugin>> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        VARIANTS
            .iter()
            .map(|v| {
                let uri = CString::new(ttl::uri(v)).expect("URIs have no NUL");
                let descriptor = Descriptor {
                    uri: uri.as_ptr(),
                    instantiate,
                    connect_port,
                    activate: Some(handle::activate),
                    run,
                    deactivate: None,
                    cleanup: handle::cleanup,
                    extension_data,
                };
                Plugin { descriptor, _uri: uri }
            })
            .collect()
    })
}

/// The host's entry point: descriptor `index`, or null past the last.
#[no_mangle]
pub extern "C" fn lv2_descriptor(index: u32) -> *const c_void {
    catch_unwind(|| plugins().get(index as usize).map_or(std::ptr::null(), |p| &p.descriptor as *const Descriptor as *const c_void))
        .unwrap_or(std::ptr::null())
}

unsafe extern "C" fn instantiate(d: *const Descriptor, rate: f64, _bundle: *const c_char, _features: *const *const Feature) -> Handle {
    // The descriptor is one of ours: which one is its place in the list.
    let Some(index) = plugins().iter().position(|p| std::ptr::eq(&p.descriptor, d)) else { return std::ptr::null_mut() };
    handle::instantiate(VARIANTS[index], rate)
}

unsafe extern "C" fn connect_port(h: Handle, port: u32, data: *mut c_void) {
    handle::connect(h, port as usize, data as *mut f32)
}

unsafe extern "C" fn run(h: Handle, n: u32) {
    handle::run(h, n as usize)
}

/// No extensions: everything the host needs is in the Turtle.
unsafe extern "C" fn extension_data(_uri: *const c_char) -> *const c_void {
    std::ptr::null()
}
