//! Frames through the model with their recurrent state: the single piece of code that both the
//! real-time worker thread (one frame a call) and the offline (inline) path (a block's frames a
//! call) run.

use crate::model::{self, Bound, Model};

/// What one frame's inference gave.
pub enum Outcome {
    /// The estimate is valid.
    Ok,
    /// A non-finite value reached the recurrent state: the frame is not used, and the state
    /// starts afresh (a NaN there would stay for good).
    Discarded,
    /// The model failed; every later frame passes through.
    Failed(String),
}

/// Every channel's recurrent state, run as one batch through the model's session.
pub struct State {
    /// The bound tensors, or why they could not be made (then every frame fails, and the
    /// engine passes audio through).
    bound: Result<Bound, String>,
}

impl State {
    /// Allocates the tensors: call it where allocation is allowed (worker start, engine build).
    pub fn new(model: &Model, channels: usize) -> Self {
        Self { bound: model::catch(|| model.bind(channels)) }
    }

    /// Zeroes the state. No allocation: the audio thread may call it.
    pub fn clear(&mut self) {
        if let Ok(b) = &mut self.bound {
            b.clear();
        }
    }

    /// `mags` and `est` are `channels x 161`.
    pub fn run(&mut self, model: &Model, mags: &[f32], est: &mut [f32]) -> Outcome {
        self.run_frames(model, 1, mags, est)
    }

    /// `frames` frames in one call: `mags` and `est` are `channels x frames x 161`. A non-finite
    /// state after them discards all of them.
    pub fn run_frames(&mut self, model: &Model, frames: usize, mags: &[f32], est: &mut [f32]) -> Outcome {
        let bound = match &mut self.bound {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(format!("model stopped: {e}")),
        };
        if let Err(e) = model::catch(|| bound.run_frames(model, frames, mags, est)) {
            return Outcome::Failed(format!("model stopped: {e}"));
        }
        if !bound.state_is_finite() {
            bound.clear();
            return Outcome::Discarded;
        }
        Outcome::Ok
    }
}
