//! One channel count's tensors bound to a model's session (ONNX Runtime's IO binding), so a frame
//! copies its magnitudes in and its estimate out and nothing else.
//!
//! Every tensor is allocated once, here. The recurrent state lives in two banks: binding 0 reads
//! bank 0 and writes bank 1, binding 1 the reverse, and each frame flips which binding runs. The
//! state is never copied and never re-bound: a frame's new state simply becomes the next frame's
//! input. (`Run` itself still allocates inside ORT; it runs on the worker thread, or inline in an
//! offline render, never on a real-time audio callback.)

use ort::session::{IoBinding, Session};
use ort::value::Tensor;

use crate::model::{Model, StateSpec};
use crate::stft::MODEL_BINS;

pub struct Bound {
    channels: usize,
    mag: Tensor<f32>,
    est: Tensor<f32>,
    /// `banks[b][k]` is state `k` in bank `b`.
    banks: [Vec<Tensor<f32>>; 2],
    /// `bindings[b]` reads bank `b` and writes bank `1 - b`.
    bindings: [IoBinding; 2],
    /// The bank holding the state the next frame reads.
    current: usize,
}

// SAFETY: an `IoBinding` is a plain ORT object with no thread affinity; ORT only forbids using
// one from two threads at once, which `&mut self` on every use rules out. The tensors it holds
// are owned by this struct and move with it.
unsafe impl Send for Bound {}

impl Bound {
    pub(crate) fn new(session: &Session, states: &[StateSpec], channels: usize) -> Result<Self, ort::Error> {
        let alloc = session.allocator();
        let zeroed = |shape: Vec<i64>| -> Result<Tensor<f32>, ort::Error> {
            let mut t = Tensor::<f32>::new(alloc, shape)?;
            t.extract_tensor_mut().1.fill(0.0);
            Ok(t)
        };
        let mag = zeroed(vec![channels as i64, MODEL_BINS as i64])?;
        let mut est = zeroed(vec![channels as i64, MODEL_BINS as i64])?;
        let bank = || states.iter().map(|s| zeroed(s.shape(channels))).collect::<Result<Vec<_>, _>>();
        let mut banks = [bank()?, bank()?];
        let mut bindings = [session.create_binding()?, session.create_binding()?];
        for (b, binding) in bindings.iter_mut().enumerate() {
            binding.bind_input("mag", &mag)?;
            binding.bind_output("estimate", &mut est)?;
            for (k, s) in states.iter().enumerate() {
                binding.bind_input(s.name.as_str(), &banks[b][k])?;
                binding.bind_output(s.next.as_str(), &mut banks[1 - b][k])?;
            }
        }
        Ok(Self { channels, mag, est, banks, bindings, current: 0 })
    }

    /// One frame: `mags` and `est` are `channels x 161`; the state advances by one frame.
    pub fn run(&mut self, model: &Model, mags: &[f32], est: &mut [f32]) -> Result<(), String> {
        let n = self.channels * MODEL_BINS;
        self.mag.extract_tensor_mut().1.copy_from_slice(&mags[..n]);
        {
            let mut session = model.session.lock().map_err(|_| "model lock poisoned".to_string())?;
            // The outputs are the bound tensors themselves; the returned handles are not needed.
            session.run_binding(&self.bindings[self.current]).map_err(|e| e.to_string())?;
        }
        est[..n].copy_from_slice(self.est.extract_tensor().1);
        self.current ^= 1;
        Ok(())
    }

    /// Whether every value of the current state is finite (a NaN there would stay for good).
    pub fn state_is_finite(&self) -> bool {
        self.banks[self.current].iter().all(|t| t.extract_tensor().1.iter().all(|v| v.is_finite()))
    }

    /// Zeroes the current state: the next frame starts afresh. No allocation.
    pub fn clear(&mut self) {
        for t in &mut self.banks[self.current] {
            t.extract_tensor_mut().1.fill(0.0);
        }
    }
}
