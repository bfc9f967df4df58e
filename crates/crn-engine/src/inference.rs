//! One frame through the model with its recurrent state: the single piece of code that both
//! the real-time worker thread and the offline (inline) path run, so their outputs are
//! bit-identical whenever no real-time frame was late.

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
        let bound = match &mut self.bound {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(format!("model stopped: {e}")),
        };
        if let Err(e) = model::catch(|| bound.run(model, mags, est)) {
            return Outcome::Failed(format!("model stopped: {e}"));
        }
        if !bound.state_is_finite() {
            bound.clear();
            return Outcome::Discarded;
        }
        Outcome::Ok
    }
}
