//! One frame through the model with its recurrent state: the single piece of code that both
//! the real-time worker thread and the offline (inline) path run, so their outputs are
//! bit-identical whenever no real-time frame was late.

use crate::model::{self, Model};

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

/// Every channel's recurrent state, `channels x state_size`, run as one batch.
pub struct State {
    values: Vec<f32>,
    channels: usize,
}

impl State {
    pub fn new(model: &Model, channels: usize) -> Self {
        Self { values: vec![0.0; channels * model.info.state_size], channels }
    }

    pub fn clear(&mut self) {
        self.values.fill(0.0);
    }

    /// `mags` and `est` are `channels x 161`.
    pub fn run(&mut self, model: &Model, mags: &[f32], est: &mut [f32]) -> Outcome {
        let channels = self.channels;
        let values = &mut self.values;
        let outcome = match model::catch(|| model.run(channels, mags, values, est)) {
            Ok(()) => Outcome::Ok,
            Err(e) => return Outcome::Failed(format!("model stopped: {e}")),
        };
        if !self.values.iter().all(|v| v.is_finite()) {
            self.values.fill(0.0);
            return Outcome::Discarded;
        }
        outcome
    }
}
