//! Denormal numbers make x86 arithmetic crawl; audio never needs them.

/// Flush-to-zero (bit 15) and denormals-are-zero (bit 6) in MXCSR.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

/// Sets flush-to-zero and denormals-are-zero for the calling thread.
pub fn flush_to_zero() {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        #[allow(deprecated)]
        {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | FTZ_DAZ);
        }
    }
}

/// Flush-to-zero and denormals-are-zero on the calling thread while it lives; dropping it puts
/// the caller's MXCSR back as it was.
///
/// For the host's audio thread around each `process` call: the thread belongs to the host,
/// which may not set these flags (most do not), and a plugin that leaves them changed would
/// alter the arithmetic of every plugin after it on that thread. Without them, a decaying tail
/// (the overlap-add, smoothers, silence after speech) turns subnormal and each operation on it
/// costs about a hundred cycles, and subnormal samples reach the host's output.
pub struct DenormalGuard {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
    /// MXCSR is per thread: the guard must be dropped on the thread that made it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl DenormalGuard {
    #[inline]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)]
        let saved = unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            let saved = _mm_getcsr();
            _mm_setcsr(saved | FTZ_DAZ);
            saved
        };
        Self {
            #[cfg(target_arch = "x86_64")]
            saved,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for DenormalGuard {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)]
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.saved);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    #![allow(deprecated)]
    use super::*;
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
    use std::hint::black_box;

    /// Half the smallest normal f32: subnormal unless flushed.
    fn half_min_normal() -> f32 {
        black_box(f32::MIN_POSITIVE) * black_box(0.5)
    }

    #[test]
    fn guard_flushes_and_restores_the_callers_mxcsr() {
        // Runs on its own test thread, so changing MXCSR here affects nothing else.
        let before = unsafe { _mm_getcsr() } & !FTZ_DAZ;
        unsafe { _mm_setcsr(before) };
        assert!(half_min_normal() > 0.0, "subnormals are produced without the guard");
        {
            let _guard = DenormalGuard::new();
            assert_eq!(unsafe { _mm_getcsr() } & FTZ_DAZ, FTZ_DAZ);
            assert_eq!(half_min_normal(), 0.0, "flush-to-zero");
            // Denormals-are-zero: a subnormal input reads as zero, even where the product
            // (about 1.8e-15) would be normal and flush-to-zero alone would keep it.
            let sub = f32::from_bits(1);
            assert_eq!(black_box(sub) * black_box(2.0f32.powi(100)), 0.0, "denormals-are-zero");
        }
        assert_eq!(unsafe { _mm_getcsr() } & FTZ_DAZ, 0, "the caller's flags are back");
        assert!(half_min_normal() > 0.0);

        // A caller that had FTZ/DAZ on keeps it after the guard.
        unsafe { _mm_setcsr(before | FTZ_DAZ) };
        drop(DenormalGuard::new());
        assert_eq!(unsafe { _mm_getcsr() } & FTZ_DAZ, FTZ_DAZ);
        unsafe { _mm_setcsr(before) };
    }
}
