//! Keeps the system's OpenGL libraries and driver loaded for the rest of the process once an
//! editor window has had a GL context.
//!
//! baseview (under nice-plug-egui) `dlopen`s libEGL / libGL for each editor window and `dlclose`s
//! them when the window goes, and glvnd in turn loads the Mesa driver (`dri/*_dri.so`, llvmpipe
//! under Xvfb) when a display is first used and unloads it when the display closes. Both leave
//! code behind that still runs later: glvnd's per-thread state has a `pthread_key_create`
//! destructor, run when the window's X11 thread exits after the last `dlclose` (SIGSEGV in
//! `__nptl_deallocate_tsd` with libGLdispatch gone from the map), and the driver's LLVM, which is
//! never unloaded, keeps cleanup hooks into the driver that `exit` calls (SIGSEGV in `exit` with
//! no driver mapped). `host-tests/tests/vst3_teardown.rs` died of one or the other about one run
//! in ten. Marking every loaded GL object `RTLD_NODELETE` keeps them mapped, so that code stays
//! valid; each window's own `dlopen`/`dlclose` pair then only moves a reference count.

/// Marks every loaded GL library (glvnd, its vendors, glapi) and DRI driver `RTLD_NODELETE`.
/// Called once the window's GL context exists, when all of them are loaded.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn pin_gl_libraries() {
    use std::ffi::{c_int, c_void, CStr, CString};

    unsafe extern "C" fn visit(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> c_int {
        // SAFETY: glibc hands a valid entry whose name is a NUL-terminated path (or null), and
        // `data` is the vector passed below.
        let (name, found) = unsafe { ((*info).dlpi_name, &mut *(data as *mut Vec<CString>)) };
        if name.is_null() {
            return 0;
        }
        let path = unsafe { CStr::from_ptr(name) };
        let p = path.to_bytes();
        let has = |part: &[u8]| p.windows(part.len()).any(|w| w == part);
        if has(b"/libGL") || has(b"/libEGL") || has(b"/libglapi") || has(b"/dri/") || has(b"gallium") {
            found.push(path.to_owned());
        }
        0
    }
    // Only collected inside the callback: `dlopen` there would take the loader's locks in the
    // opposite order to a `dlopen` on another thread (a version that did hung one run in nine).
    let mut found: Vec<CString> = Vec::new();
    // SAFETY: the callback only reads the entries glibc passes it and pushes to `found`.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut found as *mut Vec<CString> as *mut c_void) };
    for path in found {
        // SAFETY: RTLD_NOLOAD only takes another reference to an object already mapped; the
        // handle is deliberately never closed.
        unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD | libc::RTLD_NODELETE) };
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn pin_gl_libraries() {}
