//! Inference off the audio thread.
//!
//! The audio thread and the worker trade preallocated [`Slot`]s through lock-free queues:
//! `free` -> (audio fills magnitudes) -> `todo` -> (worker runs the model) -> `done` -> (audio
//! reads the estimate) -> `free`. Nothing on the audio side allocates, locks or waits, except
//! [`Worker::wait_done`], which only offline rendering uses. The worker keeps each channel's
//! recurrent state, so every frame must reach it in order; a frame that finds no free slot is
//! skipped by the model and counted.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use crate::model::Model;
use crate::stft::MODEL_BINS;

pub struct Slot {
    pub seq: u64,
    /// The worker zeroes every channel's model state before this frame (after a reset).
    pub reset: bool,
    pub mags: Vec<f32>,
    pub est: Vec<f32>,
    pub ok: bool,
}

struct Shared {
    free: ArrayQueue<Box<Slot>>,
    todo: ArrayQueue<Box<Slot>>,
    done: ArrayQueue<Box<Slot>>,
    stop: AtomicBool,
    /// Test hook: extra time the worker spends per frame, to prove late frames are handled.
    pub delay_us: AtomicU32,
    /// Set by the first model error, which then turns every later frame into passthrough.
    failed: AtomicBool,
    error: Mutex<Option<String>>,
    waiter: Mutex<Option<Thread>>,
}

pub struct Worker {
    shared: Arc<Shared>,
    /// Frames that may be in flight at once; a healthy worker keeps up to the engine's slack.
    slots: usize,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(model: Arc<Model>, channels: usize, slots: usize) -> Self {
        let shared = Arc::new(Shared {
            free: ArrayQueue::new(slots),
            todo: ArrayQueue::new(slots),
            done: ArrayQueue::new(slots),
            stop: AtomicBool::new(false),
            delay_us: AtomicU32::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            waiter: Mutex::new(None),
        });
        for _ in 0..slots {
            let slot = Slot { seq: 0, reset: false, mags: vec![0.0; channels * MODEL_BINS], est: vec![0.0; channels * MODEL_BINS], ok: false };
            let _ = shared.free.push(Box::new(slot));
        }
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("crn-denoise inference".into())
            .spawn(move || run(s, model, channels))
            .expect("cannot start the inference thread");
        Self { shared, slots, thread: Some(thread) }
    }

    /// A slot to fill, or `None` when the worker is so far behind that all are in flight.
    pub fn take_free(&self) -> Option<Box<Slot>> {
        self.shared.free.pop()
    }

    pub fn submit(&self, slot: Box<Slot>) {
        if let Err(slot) = self.shared.todo.push(slot) {
            let _ = self.shared.free.push(slot); // cannot happen: the queues hold every slot
        }
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    pub fn take_done(&self) -> Option<Box<Slot>> {
        self.shared.done.pop()
    }

    pub fn recycle(&self, slot: Box<Slot>) {
        let _ = self.shared.free.push(slot);
    }

    /// Offline rendering only: blocks until a finished frame is there, or the worker has died.
    pub fn wait_done(&self) -> Option<Box<Slot>> {
        loop {
            if let Some(s) = self.shared.done.pop() {
                return Some(s);
            }
            if self.shared.todo.is_empty() && self.shared.done.is_empty() && self.in_flight() == 0 {
                return None;
            }
            if self.thread.as_ref().map_or(true, |t| t.is_finished()) {
                return self.shared.done.pop();
            }
            *self.shared.waiter.lock().unwrap() = Some(std::thread::current());
            if let Some(s) = self.shared.done.pop() {
                return Some(s);
            }
            std::thread::park_timeout(Duration::from_millis(5));
        }
    }

    /// No frame queued or being computed (tests pace a "host" with this).
    pub fn idle(&self) -> bool {
        self.in_flight() == 0
    }

    fn in_flight(&self) -> usize {
        self.slots - self.shared.free.len() - self.shared.done.len()
    }

    pub fn set_delay_us(&self, us: u32) {
        self.shared.delay_us.store(us, Ordering::Relaxed);
    }

    /// The model's failure, if it failed while running.
    pub fn error(&self) -> Option<String> {
        if !self.shared.failed.load(Ordering::Relaxed) {
            return None;
        }
        self.shared.error.try_lock().ok().and_then(|e| e.clone())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn run(shared: Arc<Shared>, model: Arc<Model>, channels: usize) {
    crate::denormals::flush_to_zero();
    let size = model.info.state_size;
    let mut state = vec![0.0f32; channels * size];
    while !shared.stop.load(Ordering::Acquire) {
        let Some(mut slot) = shared.todo.pop() else {
            std::thread::park_timeout(Duration::from_millis(50));
            continue;
        };
        let delay = shared.delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_micros(delay as u64));
        }
        if slot.reset {
            state.fill(0.0);
        }
        slot.ok = false;
        if !shared.failed.load(Ordering::Relaxed) {
            let Slot { mags, est, .. } = &mut *slot;
            match crate::model::catch(|| model.run(channels, mags, &mut state, est)) {
                Ok(()) => slot.ok = true,
                Err(e) => {
                    *shared.error.lock().unwrap() = Some(format!("model stopped: {e}"));
                    shared.failed.store(true, Ordering::Relaxed);
                }
            }
            // A NaN that got into the recurrent state would stay there: start that state afresh.
            if !state.iter().all(|v| v.is_finite()) {
                state.fill(0.0);
                slot.ok = false;
            }
        }
        let _ = shared.done.push(slot);
        if let Ok(w) = shared.waiter.try_lock() {
            if let Some(t) = w.as_ref() {
                t.unpark();
            }
        }
    }
}
