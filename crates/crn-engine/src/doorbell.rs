//! How the audio thread sleeps until the worker has finished a frame, without a lock.
//!
//! The worker bumps a counter after each finished frame and wakes whoever sleeps on it; the
//! audio thread, finding its frame not back, sleeps on the counter's address (a Linux futex)
//! until it changes or its deadline passes. A futex wait is not a lock: there is no owner to
//! wait for, nothing to invert priority with, and the timeout bounds it like the deadline
//! bounded the old spin. What it changes is that the core is handed over: a spinning or
//! yielding audio thread at real-time priority kept a lower-priority worker on the same core
//! (a host pinned with `taskset`) from running at all, so every frame was late.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Doorbell {
    rings: AtomicU32,
}

impl Doorbell {
    /// The count to pass to [`Doorbell::wait`]: read it before checking for the frame, so a
    /// frame finished after the check changes the count and the wait returns at once.
    pub fn count(&self) -> u32 {
        self.rings.load(Ordering::Acquire)
    }

    /// After a frame is finished (and visible in the done queue).
    pub fn ring(&self) {
        self.rings.fetch_add(1, Ordering::Release);
        #[cfg(target_os = "linux")]
        unsafe {
            libc::syscall(libc::SYS_futex, self.rings.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
        }
    }

    /// Sleeps until the count differs from `seen` or `timeout` has passed (it may return early:
    /// callers check again). No allocation, no lock.
    pub fn wait(&self, seen: u32, timeout: Duration) {
        #[cfg(target_os = "linux")]
        unsafe {
            let ts = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            libc::syscall(
                libc::SYS_futex,
                self.rings.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                seen,
                &ts as *const libc::timespec,
            );
        }
        #[cfg(not(target_os = "linux"))]
        {
            // A short sleep still hands the core over; the caller checks again after it.
            let _ = seen;
            std::thread::sleep(timeout.min(Duration::from_micros(100)));
        }
    }
}
