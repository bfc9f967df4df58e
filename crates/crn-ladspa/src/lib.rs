//! `crn_denoise_ladspa.so`: the denoiser as LADSPA plugins, for PipeWire's filter-chain and
//! other LADSPA hosts. Four plugins (mono, stereo, each at 30 ms and at 20 ms "live"), with the
//! ports of `crn_live::ports` and the delay on an output control port named `latency`.
//!
//! Nothing here may take a host down: every entry point catches panics (`crn_live::handle`), a
//! null handle is ignored, and a missing model or ONNX Runtime makes a passthrough with the same delay.

mod abi;
mod descriptor;

use std::os::raw::c_ulong;
use std::panic::catch_unwind;

use crn_live::{handle, VARIANTS};

use abi::{Data, Descriptor, Handle};

/// The host's entry point: descriptor `index`, or null past the last.
#[no_mangle]
pub extern "C" fn ladspa_descriptor(index: c_ulong) -> *const Descriptor {
    catch_unwind(|| descriptor::plugins().get(index as usize).map_or(std::ptr::null(), |p| &p.descriptor as *const _))
        .unwrap_or(std::ptr::null())
}

unsafe extern "C" fn instantiate(d: *const Descriptor, rate: c_ulong) -> Handle {
    let Some(d) = d.as_ref() else { return std::ptr::null_mut() };
    let Some(&variant) = VARIANTS.get(d.implementation_data as usize) else { return std::ptr::null_mut() };
    handle::instantiate(variant, rate as f64)
}

unsafe extern "C" fn connect_port(h: Handle, port: c_ulong, data: *mut Data) {
    handle::connect(h, port as usize, data)
}

unsafe extern "C" fn run(h: Handle, n: c_ulong) {
    handle::run(h, n as usize)
}
