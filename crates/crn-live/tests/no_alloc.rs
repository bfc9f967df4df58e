//! `Instance::run` never allocates on the host's audio thread: a counting allocator watches it
//! through blocks of 0 to beyond the engine's chunk, in place, with ports reconnected and
//! controls changed between runs, in every variant, with the model (or in passthrough, where
//! this machine has no ONNX Runtime: the path through the instance is the same).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crn_live::{Instance, Role, VARIANTS};

struct Counting;

thread_local! {
    static WATCH: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if WATCH.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if WATCH.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn run_never_allocates() {
    for v in VARIANTS {
        let mut inst = Instance::new(*v, 44_100.0).unwrap();
        let ports = v.ports();
        let mut controls: Vec<f32> = ports.iter().map(|p| p.default()).collect();
        let n = 20_000;
        let mut bufs: Vec<Vec<f32>> = (0..v.channels).map(|c| (0..n).map(|i| ((i * (c + 3)) % 97) as f32 / 97.0 - 0.5).collect()).collect();
        let mut outs = vec![vec![0.0f32; n]; v.channels];
        WATCH.with(|w| w.set(true));
        unsafe {
            for (i, p) in ports.iter().enumerate() {
                if !p.is_audio() {
                    inst.connect(i, &mut controls[i]);
                }
            }
            for (round, block) in [0usize, 1, 64, 12_000, 441, 3000].into_iter().enumerate() {
                for (i, p) in ports.iter().enumerate() {
                    match p.role {
                        Role::AudioIn(ch) => inst.connect(i, bufs[ch].as_mut_ptr()),
                        // Every other round in place: the output buffer is the input.
                        Role::AudioOut(ch) if round % 2 == 1 => inst.connect(i, bufs[ch].as_mut_ptr()),
                        Role::AudioOut(ch) => inst.connect(i, outs[ch].as_mut_ptr()),
                        Role::Mix => controls[i] = 100.0 - 10.0 * round as f32,
                        Role::Output => controls[i] = (round % 2) as f32,
                        _ => {}
                    }
                }
                inst.run(block);
            }
        }
        WATCH.with(|w| w.set(false));
        assert_eq!(ALLOCS.load(Ordering::Relaxed), 0, "{} allocated in run", v.label);
    }
}
