//! `Instance::run` never allocates on the host's audio thread: a counting allocator watches it
//! through blocks of 0 to beyond the engine's chunk, in place, with ports reconnected and
//! controls changed between runs, in every variant, with the model (or in passthrough, where
//! this machine has no ONNX Runtime: the path through the instance is the same).

use crn_engine::test_hooks::{AllocationWatch, CountingAllocator};
use crn_live::{Instance, Role, VARIANTS};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn run_never_allocates() {
    for v in VARIANTS {
        let mut inst = Instance::new(*v, 44_100.0).unwrap();
        let ports = v.ports();
        let mut controls: Vec<f32> = ports.iter().map(|p| p.default()).collect();
        let n = 20_000;
        let mut bufs: Vec<Vec<f32>> = (0..v.channels).map(|c| (0..n).map(|i| ((i * (c + 3)) % 97) as f32 / 97.0 - 0.5).collect()).collect();
        let mut outs = vec![vec![0.0f32; n]; v.channels];
        let watch = AllocationWatch::start();
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
        assert_eq!(watch.stop(), 0, "{} allocated in run", v.label);
    }
}
