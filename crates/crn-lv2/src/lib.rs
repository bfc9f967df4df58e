//! `crn_denoise.lv2`: the denoiser as LV2 plugins, the same four as the LADSPA library (mono,
//! stereo, each at 30 ms and at 20 ms "live") with the same ports (`crn_live::ports`); the
//! delay is reported on the `latency` port (lv2:reportsLatency). [`ttl`] writes the bundle's
//! Turtle from that table.
//!
//! Nothing here may take a host down: every entry point catches panics, a null handle is
//! ignored, and a missing model or ONNX Runtime makes a passthrough with the same delay.

mod abi;
pub mod ttl;

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crn_live::{Instance, VARIANTS};

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
                    activate: Some(activate),
                    run,
                    deactivate: None,
                    cleanup,
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

/// # Safety
/// The handle is null or one `instantiate` returned and `cleanup` has not freed.
unsafe fn instance<'a>(h: Handle) -> Option<&'a mut Instance> {
    (h as *mut Instance).as_mut()
}

unsafe extern "C" fn instantiate(d: *const Descriptor, rate: f64, _bundle: *const c_char, _features: *const *const Feature) -> Handle {
    // The descriptor is one of ours: which one is its place in the list.
    let Some(index) = plugins().iter().position(|p| std::ptr::eq(&p.descriptor, d)) else { return std::ptr::null_mut() };
    catch_unwind(|| Instance::new(VARIANTS[index], rate))
        .ok()
        .flatten()
        .map_or(std::ptr::null_mut(), |i| Box::into_raw(Box::new(i)) as Handle)
}

unsafe extern "C" fn connect_port(h: Handle, port: u32, data: *mut c_void) {
    if let Some(i) = instance(h) {
        i.connect(port as usize, data as *mut f32);
    }
}

unsafe extern "C" fn activate(h: Handle) {
    if let Some(i) = instance(h) {
        let _ = catch_unwind(AssertUnwindSafe(|| i.activate()));
    }
}

unsafe extern "C" fn run(h: Handle, n: u32) {
    if let Some(i) = instance(h) {
        let _ = catch_unwind(AssertUnwindSafe(|| i.run(n as usize)));
    }
}

unsafe extern "C" fn cleanup(h: Handle) {
    if !h.is_null() {
        // Dropping the engine joins its worker thread.
        let _ = catch_unwind(|| drop(Box::from_raw(h as *mut Instance)));
    }
}

/// No extensions: everything the host needs is in the Turtle.
unsafe extern "C" fn extension_data(_uri: *const c_char) -> *const c_void {
    std::ptr::null()
}
