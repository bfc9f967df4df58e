//! One channel count's tensors bound to a model's session (ONNX Runtime's IO binding), so a call
//! copies its magnitudes in and its estimates out and nothing else.
//!
//! The recurrent state lives in two banks: a call's binding 0 reads bank 0 and writes bank 1,
//! binding 1 the reverse, and each call flips which bank is current. The state is never copied
//! and never re-bound: one call's new state simply becomes the next call's input.
//!
//! A call takes one frame ([`Bound::run`], the real-time worker: everything it uses is allocated
//! in [`Bound::new`]) or `n` frames at once ([`Bound::run_frames`], an offline render handing the
//! model a host block's frames together; the tensors for `n` frames are made on first use and
//! kept). Both bind the same state banks, so the two kinds of call can follow each other.
//! (`Run` itself still allocates inside ORT; it runs on the worker thread, or inline in an
//! offline render, never on a real-time audio callback.)

use ort::session::{IoBinding, Session};
use ort::value::Tensor;

use crate::model::{Model, StateSpec};
use crate::stft::MODEL_BINS;

pub struct Bound {
    channels: usize,
    /// `banks[b][k]` is state `k` in bank `b`.
    banks: [Vec<Tensor<f32>>; 2],
    /// `calls[n - 1]`: the tensors and bindings of an `n`-frame call, once made.
    calls: Vec<Option<Call>>,
    /// The bank holding the state the next call reads.
    current: usize,
}

/// The magnitudes and estimates of one call size, bound with both state banks.
struct Call {
    /// `[channels, frames, 161]`.
    mag: Tensor<f32>,
    est: Tensor<f32>,
    /// `bindings[b]` reads bank `b` and writes bank `1 - b`.
    bindings: [IoBinding; 2],
}

// SAFETY: an `IoBinding` is a plain ORT object with no thread affinity; ORT only forbids using
// one from two threads at once, which `&mut self` on every use rules out. The tensors it holds
// are owned by this struct and move with it.
unsafe impl Send for Bound {}

fn zeroed(session: &Session, shape: Vec<i64>) -> Result<Tensor<f32>, ort::Error> {
    let mut t = Tensor::<f32>::new(session.allocator(), shape)?;
    t.extract_tensor_mut().1.fill(0.0);
    Ok(t)
}

impl Call {
    fn new(session: &Session, states: &[StateSpec], banks: &mut [Vec<Tensor<f32>>; 2], channels: usize, frames: usize) -> Result<Self, ort::Error> {
        let shape = vec![channels as i64, frames as i64, MODEL_BINS as i64];
        let mag = zeroed(session, shape.clone())?;
        let mut est = zeroed(session, shape)?;
        let mut bindings = [session.create_binding()?, session.create_binding()?];
        for (b, binding) in bindings.iter_mut().enumerate() {
            binding.bind_input("mag", &mag)?;
            binding.bind_output("estimate", &mut est)?;
            for (k, s) in states.iter().enumerate() {
                binding.bind_input(s.name.as_str(), &banks[b][k])?;
                binding.bind_output(s.next.as_str(), &mut banks[1 - b][k])?;
            }
        }
        Ok(Self { mag, est, bindings })
    }
}

impl Bound {
    /// The state banks and the one-frame call: all a real-time worker ever uses.
    pub(crate) fn new(session: &Session, states: &[StateSpec], channels: usize) -> Result<Self, ort::Error> {
        let bank = || states.iter().map(|s| zeroed(session, s.shape(channels))).collect::<Result<Vec<_>, _>>();
        let mut banks = [bank()?, bank()?];
        let one = Call::new(session, states, &mut banks, channels, 1)?;
        Ok(Self { channels, banks, calls: vec![Some(one)], current: 0 })
    }

    /// One frame: `mags` and `est` are `channels x 161`; the state advances by one frame. No
    /// allocation outside ORT's `Run`.
    pub fn run(&mut self, model: &Model, mags: &[f32], est: &mut [f32]) -> Result<(), String> {
        self.run_frames(model, 1, mags, est)
    }

    /// `frames` frames in one call (the first call of a size makes its tensors): `mags` and
    /// `est` are `channels x frames x 161`, each channel's frames in order; the state advances
    /// by `frames` frames. The estimates equal those of one frame at a time to float rounding.
    pub fn run_frames(&mut self, model: &Model, frames: usize, mags: &[f32], est: &mut [f32]) -> Result<(), String> {
        let frames = frames.max(1);
        let n = self.channels * frames * MODEL_BINS;
        let mut session = model.session.lock().map_err(|_| "model lock poisoned".to_string())?;
        if self.calls.len() < frames {
            self.calls.resize_with(frames, || None);
        }
        if self.calls[frames - 1].is_none() {
            let call = Call::new(&session, &model.info.states, &mut self.banks, self.channels, frames).map_err(|e| e.to_string())?;
            self.calls[frames - 1] = Some(call);
        }
        let call = self.calls[frames - 1].as_mut().expect("made above");
        call.mag.extract_tensor_mut().1.copy_from_slice(&mags[..n]);
        // The outputs are the bound tensors themselves; the returned handles are not needed.
        session.run_binding(&call.bindings[self.current]).map_err(|e| e.to_string())?;
        drop(session);
        est[..n].copy_from_slice(call.est.extract_tensor().1);
        self.current ^= 1;
        Ok(())
    }

    /// Whether every value of the current state is finite (a NaN there would stay for good).
    pub fn state_is_finite(&self) -> bool {
        self.banks[self.current].iter().all(|t| t.extract_tensor().1.iter().all(|v| v.is_finite()))
    }

    /// Zeroes the current state: the next call starts afresh. No allocation.
    pub fn clear(&mut self) {
        for t in &mut self.banks[self.current] {
            t.extract_tensor_mut().1.fill(0.0);
        }
    }
}
