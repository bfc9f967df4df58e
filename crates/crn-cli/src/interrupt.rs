//! Ctrl-C for the command-line tool: the first SIGINT or SIGTERM only sets a flag, which the
//! render and encode loops check, so every file in progress fails with "interrupted" and its
//! temporary `.part` file is removed as it unwinds normally. A second signal kills at once
//! (the handler resets itself).

use std::cell::Cell;
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

thread_local! {
    /// A library host's own check, on the thread that renders for it (see [`with_check`]).
    static CHECK: Cell<Option<fn() -> bool>> = const { Cell::new(None) };
}

/// Runs `f` with `check` asked too wherever the render and encode loops ask [`requested`] (between
/// blocks), on this thread only: for a library host whose signals are its own, so Ctrl-C stops a
/// long call there too (the Python package passes Python's own signal check).
pub fn with_check<T>(check: fn() -> bool, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<fn() -> bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CHECK.set(self.0); // also when `f` panics
        }
    }
    let _restore = Restore(CHECK.replace(Some(check)));
    f()
}

/// Whether the work in progress should stop: a signal reached the CLI's handler, or the host's
/// check says so.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed) || CHECK.get().is_some_and(|check| check())
}

pub fn umask() -> u32 {
    UMASK.load(Ordering::Relaxed)
}
