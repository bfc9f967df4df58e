//! An [`Instance`] behind the opaque handle of a C plugin ABI: what the LADSPA and LV2 entry
//! points do, each in one place. Nothing here may take a host down: every call catches
//! panics (a panic unwinding into C is undefined behaviour) and a null handle is ignored.

use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Instance, Variant};

/// The handle a host holds: a boxed [`Instance`], or null.
pub type Handle = *mut c_void;

/// # Safety
/// The handle is null or one [`instantiate`] returned and [`cleanup`] has not freed.
unsafe fn instance<'a>(h: Handle) -> Option<&'a mut Instance> {
    (h as *mut Instance).as_mut()
}

/// A new instance as a handle; null where none can be made (a rate no engine runs at, or a
/// panic while making it).
pub fn instantiate(variant: Variant, sample_rate: f64) -> Handle {
    catch_unwind(|| Instance::new(variant, sample_rate)).ok().flatten().map_or(std::ptr::null_mut(), |i| Box::into_raw(Box::new(i)) as Handle)
}

/// Runs `f` on the handle's instance, if there is one, catching a panic.
///
/// # Safety
/// As [`instance`].
unsafe fn with(h: Handle, f: impl FnOnce(&mut Instance)) {
    if let Some(i) = instance(h) {
        let _ = catch_unwind(AssertUnwindSafe(|| f(i)));
    }
}

/// # Safety
/// As [`Instance::connect`], on a handle from [`instantiate`] (or null).
pub unsafe fn connect(h: Handle, port: usize, data: *mut f32) {
    with(h, |i| i.connect(port, data))
}

/// LADSPA's and LV2's `activate` alike (same C signature).
///
/// # Safety
/// A handle from [`instantiate`] (or null).
pub unsafe extern "C" fn activate(h: Handle) {
    with(h, |i| i.activate())
}

/// # Safety
/// As [`Instance::run`], on a handle from [`instantiate`] (or null).
pub unsafe fn run(h: Handle, n: usize) {
    with(h, |i| i.run(n))
}

/// Frees the instance (dropping the engine joins its worker thread): LADSPA's and LV2's
/// `cleanup` alike (same C signature).
///
/// # Safety
/// A handle from [`instantiate`] (or null), not used again.
pub unsafe extern "C" fn cleanup(h: Handle) {
    if !h.is_null() {
        let _ = catch_unwind(|| drop(Box::from_raw(h as *mut Instance)));
    }
}
