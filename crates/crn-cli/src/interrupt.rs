//! Ctrl-C for the command-line tool: the first SIGINT or SIGTERM only sets a flag, which the
//! render and encode loops check, so every file in progress fails with "interrupted" and its
//! temporary `.part` file is removed as it unwinds normally. A second signal kills at once
//! (the handler resets itself).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// The process umask, read once at start-up (reading it means setting it, so not later).
static UMASK: AtomicU32 = AtomicU32::new(0o022);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: all a signal handler may safely do here.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handlers and records the umask; call first thing in `main`, single-threaded.
pub fn install() {
    record_umask();
    #[cfg(unix)]
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Records the process umask, which outputs' permissions follow, without installing handlers:
/// for a library host that keeps its own (the Python package). Reading the umask means setting
/// it for a moment, so call it once, early.
pub fn record_umask() {
    #[cfg(unix)]
    unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        UMASK.store(m as u32, Ordering::Relaxed);
    }
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

pub fn umask() -> u32 {
    UMASK.load(Ordering::Relaxed)
}
