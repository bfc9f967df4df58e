//! Denormal numbers make x86 arithmetic crawl; audio never needs them.

/// Sets flush-to-zero and denormals-are-zero for the calling thread.
pub fn flush_to_zero() {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        #[allow(deprecated)]
        {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | 0x8040);
        }
    }
}
