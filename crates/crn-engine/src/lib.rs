//! The audio path of crn-denoise, free of any plugin framework: the STFT at the host rate, the
//! CRN through ONNX Runtime on a worker thread, gains, the latency-aligned dry path and mix, and
//! the offline render. The plugin (the `crn_denoise` crate) and the CLI (`crn-cli`) both run
//! exactly this code.
//!
//! The public interface is [`engine`] (the engine, its configuration and settings), [`meter`]
//! (what it shows an editor), [`model`], [`render`] (offline), [`stft`] (frame geometry) and
//! [`denormals`]; the stages behind `Engine::process` are private modules, one job each.

mod bands;
mod bound;
mod budget;
mod config;
mod controls;
pub mod denormals;
mod doorbell;
pub mod engine;
mod handoff;
mod inference;
mod inline;
pub mod meter;
mod mixer;
pub mod model;
pub mod render;
pub mod stft;
mod worker;

/// Hooks for the tests of this crate and of the crates on it (feature `test-hooks`): not part
/// of the production API.
#[cfg(feature = "test-hooks")]
pub mod test_hooks {
    pub use crate::worker::fail_next_spawn as fail_next_worker_spawn;

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An allocator that counts every allocation, reallocation and free made on a thread
    /// while an [`AllocationWatch`] watches it. A test installs it with
    /// `#[global_allocator] static GLOBAL: CountingAllocator = CountingAllocator;`.
    pub struct CountingAllocator;

    thread_local! {
        static WATCH: Cell<bool> = const { Cell::new(false) };
    }
    static ALLOCS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        if WATCH.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
    }

    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            count();
            System.alloc(l)
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            count();
            System.dealloc(p, l)
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            count();
            System.realloc(p, l, n)
        }
    }

    /// Watches the calling thread's allocations (with [`CountingAllocator`] as the global
    /// allocator) from [`start`](Self::start) to [`stop`](Self::stop); other threads are not counted.
    pub struct AllocationWatch {
        before: usize,
    }

    impl AllocationWatch {
        pub fn start() -> Self {
            let before = ALLOCS.load(Ordering::Relaxed);
            WATCH.with(|w| w.set(true));
            Self { before }
        }

        /// How many times the thread allocated, reallocated or freed while watched.
        pub fn stop(self) -> usize {
            WATCH.with(|w| w.set(false));
            ALLOCS.load(Ordering::Relaxed) - self.before
        }
    }
}
