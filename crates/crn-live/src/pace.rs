//! Whether the host runs the plugin faster than real time: an offline render (applyplugin,
//! lv2apply, an editor applying an effect, a DAW's export) that LADSPA and LV2 give no way to
//! announce. Such a host can wait for every model frame, and must, or its render differs from
//! the CLI's; a real-time host must not wait past its deadline.
//!
//! The measure is how far the audio processed runs ahead of twice the real time that passed
//! between runs: a real-time host's runs come one block apart, so it never gets ahead (each
//! run takes back more than it adds); a host at more than twice real time gets further ahead
//! with every run. Past [`AHEAD_BLOCKS`] of its own blocks (at most [`AHEAD_S`]) the host is
//! offline; it is real-time again as soon as its pace drops (each real-time block takes a
//! block's worth back). Counting in blocks tells a host that renders one sample per call
//! (lv2apply) within a few dozen samples, long before the first frame is due.
//!
//! A real-time host whose callback comes late by k blocks catches up with k runs in a row, and
//! gets k blocks ahead: PipeWire's graph does so after a stall, or when its quantum grows while
//! running. So however large the blocks, the host must get at least [`MIN_AHEAD_BLOCKS`] ahead
//! to count as offline (at PipeWire's 1024 and 2048, [`AHEAD_S`] is less than two blocks: one
//! late callback made it "offline", and a stalled worker could then hold the audio thread for
//! half a second). Large blocks lose nothing by it: before it tells, an offline host's block
//! may still wait for half its own duration, far more than its frames take.

use std::time::Instant;

/// How far ahead (in seconds of audio) a host must get to count as offline: more than a
/// real-time host's runs bunch up (a callback late by a few blocks), less than what the
/// first frames of an offline render take; for small blocks, [`AHEAD_BLOCKS`] of them.
pub const AHEAD_S: f64 = 0.05;
pub const AHEAD_BLOCKS: f64 = 16.0;
/// However large its blocks, a host must get this many ahead to count as offline.
pub const MIN_AHEAD_BLOCKS: f64 = 8.0;

#[derive(Default)]
pub struct Pace {
    ahead: f64,
    last_run: Option<Instant>,
}

impl Pace {
    /// Counts a run of `audio_s` seconds of audio that began `wall_s` after the previous one;
    /// returns whether the host now runs faster than real time.
    pub fn step(&mut self, audio_s: f64, wall_s: f64) -> bool {
        let limit = AHEAD_S.min(AHEAD_BLOCKS * audio_s).max(MIN_AHEAD_BLOCKS * audio_s);
        self.ahead = (self.ahead + audio_s - 2.0 * wall_s).clamp(0.0, (10.0 * AHEAD_S).max(2.0 * limit));
        self.ahead > limit
    }

    /// [`step`](Self::step) with the time since the previous run's start read from the clock
    /// (the first run after a reset counts no time and no audio: nothing to compare with).
    pub fn run(&mut self, audio_s: f64) -> bool {
        let now = Instant::now();
        let since = self.last_run.replace(now).map(|t| now.saturating_duration_since(t).as_secs_f64());
        match since {
            Some(wall_s) => self.step(audio_s, wall_s),
            None => false,
        }
    }

    /// Real time until shown otherwise (after activation).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_blocks_never_count_as_offline_even_when_late() {
        let mut p = Pace::default();
        let block = 256.0 / 48_000.0;
        for i in 0..10_000 {
            // A callback late by three blocks now and then, the next ones early to catch up.
            let wall = match i % 100 {
                50 => 4.0 * block,
                51..=53 => 0.0,
                _ => block,
            };
            assert!(!p.step(block, wall), "run {i}");
        }
    }

    /// PipeWire's usual large quanta: a callback late by a few blocks, and the catch-up runs
    /// right after it, or a quantum that grows from 64 to 2048 while running.
    #[test]
    fn late_callbacks_at_large_quanta_and_a_growing_quantum_are_real_time() {
        for samples in [1024.0, 2048.0, 4096.0] {
            let block = samples / 48_000.0;
            for late in 1..=(MIN_AHEAD_BLOCKS as usize - 1) {
                let mut p = Pace::default();
                for i in 0..1000 {
                    let wall = match i % 100 {
                        50 => (late + 1) as f64 * block,
                        51..=60 if i % 100 - 50 <= late => 0.0,
                        _ => block,
                    };
                    assert!(!p.step(block, wall), "{samples} samples, late by {late} blocks, run {i}");
                }
            }
        }
        let mut p = Pace::default();
        for _ in 0..100 {
            assert!(!p.step(64.0 / 48_000.0, 64.0 / 48_000.0));
        }
        // The first 2048-sample run comes one 64-sample block after the last small one.
        assert!(!p.step(2048.0 / 48_000.0, 64.0 / 48_000.0));
        for _ in 0..100 {
            assert!(!p.step(2048.0 / 48_000.0, 2048.0 / 48_000.0));
        }
    }

    #[test]
    fn a_host_at_three_times_real_time_is_offline_within_a_few_blocks_and_back_after() {
        for block in [1.0 / 48_000.0, 64.0 / 48_000.0, 4096.0 / 48_000.0] {
            let mut p = Pace::default();
            let runs = (0..48_000).take_while(|_| !p.step(block, block / 3.0)).count();
            // A third of a block ahead per run: 16 blocks (at most 50 ms, at least 8 blocks)
            // ahead after at most 48 runs; within 0.2 s of audio where blocks are small.
            assert!(runs <= 48, "{runs} runs of {block} s");
            assert!(block > 0.01 || runs as f64 * block <= 0.2, "{runs} runs of {block} s");
            let back = (0..48_000).take_while(|_| p.step(block, block)).count();
            assert!(back <= 48, "{back} runs of {block} s");
            assert!(!p.step(block, block));
        }
    }

    #[test]
    fn one_sample_blocks_rendered_offline_are_told_within_a_few_dozen_samples() {
        let mut p = Pace::default();
        let block = 1.0 / 44_100.0;
        let runs = (0..44_100).take_while(|_| !p.step(block, block / 20.0)).count();
        assert!(runs < 40, "{runs} runs");
    }
}
