//! Keeps the system's OpenGL libraries loaded for the rest of the process once an editor may open.
//!
//! baseview (under nice-plug-egui) `dlopen`s libEGL / libGL for each editor window and `dlclose`s
//! them when the window goes. When the last window closes, glibc unmaps glvnd (libGLdispatch and
//! its vendor libraries), but glvnd's per-thread state was registered with `pthread_key_create`
//! and a destructor inside the library. Any thread that made a context current - the window's own
//! X11 thread, still exiting - then runs that destructor from unmapped memory and the host dies
//! with SIGSEGV (`host-tests/tests/vst3_teardown.rs` caught it about one run in ten: the crash is
//! in `__nptl_deallocate_tsd` with libGLdispatch gone from the map). Opening the libraries once
//! more with `RTLD_NODELETE` keeps them (and what they loaded) mapped, so their destructors stay
//! valid; each window's own `dlopen`/`dlclose` pair then only moves a reference count.
//!
//! glvnd in turn loads the Mesa driver (`dri/*_dri.so`, llvmpipe under Xvfb) when a display is
//! first used and unloads it when the display closes, while the driver's LLVM (never unloaded)
//! still holds its cleanup hooks: the host then crashes in `exit` calling into the unmapped driver
//! (the same test, after it passed, about one run in fifteen). `pin_loaded_gl_drivers`, run once a
//! window has its GL context, marks whatever driver got loaded as never-unloaded too.

#[cfg(all(unix, not(target_os = "macos")))]
pub fn pin_gl_libraries() {
    use std::sync::Once;
    static PIN: Once = Once::new();
    PIN.call_once(|| {
        // The names baseview and x11-dl open; a missing one is fine (the editor falls back or
        // fails to open on its own, with its own message).
        for name in [c"libEGL.so.1", c"libGL.so.1", c"libGLdispatch.so.0"] {
            // SAFETY: a plain dlopen of a system library by name; the handle is deliberately
            // never closed.
            unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NODELETE) };
        }
    });
}

/// Marks every loaded GL vendor library and DRI driver `RTLD_NODELETE` (see the module docs).
#[cfg(all(unix, not(target_os = "macos")))]
pub fn pin_loaded_gl_drivers() {
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
        if has(b"/dri/") || has(b"gallium") || has(b"libGLX_mesa") || has(b"libEGL_mesa") {
            found.push(path.to_owned());
        }
        0
    }
    // Only collected inside the callback: `dlopen` there would take the loader's locks in the
    // opposite order to a `dlopen` on another thread.
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

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn pin_loaded_gl_drivers() {}
