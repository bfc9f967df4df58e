//! The process-wide budget for waiting on inference.
//!
//! Each engine's own deadline lets its audio thread wait up to [`WAIT_SHARE`] of a block; a host
//! running six instances in series on one callback would then wait three blocks. So every
//! engine also draws on one budget per process: waiting time accrues at [`WAIT_SHARE`] of the
//! time that passes, and at most one block's share of it can be saved up. However many
//! instances wait, together they wait no more than that share of real time.
//!
//! A token bucket kept in one atomic (the time at which it was empty, in nanoseconds since an
//! epoch): credit at `now` is `min(cap, (now - empty_at) * share)`. Taking credit moves
//! `empty_at` forward with a compare-and-swap; settling a wait moves it back by what was not
//! used, or on by what a late wake-up overran. No lock, no allocation, safe from any number
//! of audio threads.
//!
//! [`WAIT_SHARE`]: crate::config::WAIT_SHARE

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::WAIT_SHARE;

pub struct WaitBudget {
    /// Seconds of waiting earned per second that passes.
    share: f64,
    /// When the bucket was (or would have been) empty, in ns since [`epoch`].
    empty_at: AtomicI64,
}

/// The budget every engine with the default wait share draws on.
pub static PROCESS: WaitBudget = WaitBudget::new(WAIT_SHARE);

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Fixes the epoch; engines call it when they are made, so the audio thread only reads it.
pub fn init() {
    EPOCH.get_or_init(Instant::now);
}

fn nanos(t: Instant) -> i64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    t.saturating_duration_since(epoch).as_nanos() as i64 - epoch.saturating_duration_since(t).as_nanos() as i64
}

impl WaitBudget {
    pub const fn new(share: f64) -> Self {
        // Empty long ago: full from the start.
        Self { share, empty_at: AtomicI64::new(i64::MIN / 4) }
    }

    /// Takes up to `want` of waiting at `now`, with at most `cap` saved up (one block's share
    /// for the caller); returns what was granted.
    pub fn take(&self, now: Instant, want: Duration, cap: Duration) -> Duration {
        if self.share <= 0.0 {
            return Duration::ZERO;
        }
        let now = nanos(now);
        let want = want.as_nanos() as f64;
        let cap = cap.as_nanos() as f64;
        let mut empty_at = self.empty_at.load(Ordering::Acquire);
        loop {
            let credit = ((now.saturating_sub(empty_at)) as f64 * self.share).clamp(0.0, cap);
            let grant = credit.min(want);
            if grant <= 0.0 {
                return Duration::ZERO;
            }
            // What is left stays in the bucket: it was empty `left / share` ago.
            let new = now - ((credit - grant) / self.share) as i64;
            match self.empty_at.compare_exchange_weak(empty_at, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Duration::from_nanos(grant as u64),
                Err(seen) => empty_at = seen,
            }
        }
    }

    /// Settles a wait that was granted `granted` and took `used`: credit not used comes back,
    /// and a wait that ran over (the OS woke it late) is charged, so what all waits took in
    /// sum never exceeds what accrued.
    pub fn settle(&self, granted: Duration, used: Duration) {
        if self.share > 0.0 {
            let delta = (used.as_nanos() as f64 - granted.as_nanos() as f64) / self.share;
            self.empty_at.fetch_add(delta as i64, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: Duration, ms: f64) -> bool {
        (got.as_secs_f64() * 1e3 - ms).abs() < 1e-3
    }

    #[test]
    fn credit_accrues_at_the_share_and_is_capped() {
        let b = WaitBudget::new(0.5);
        let t0 = Instant::now();
        let cap = Duration::from_millis(5);
        let all = Duration::from_secs(1);
        // Full at first: one cap's worth, then nothing.
        assert!(close(b.take(t0, all, cap), 5.0));
        assert!(close(b.take(t0, all, cap), 0.0));
        // 4 ms later, 2 ms have accrued.
        let t1 = t0 + Duration::from_millis(4);
        assert!(close(b.take(t1, all, cap), 2.0));
        // Unused credit comes back.
        b.settle(Duration::from_millis(2), Duration::from_millis(1));
        assert!(close(b.take(t1, all, cap), 1.0));
        // Long idle: capped again; a small request takes only what it asks.
        let t2 = t1 + Duration::from_secs(120);
        assert!(close(b.take(t2, Duration::from_millis(1), cap), 1.0));
        assert!(close(b.take(t2, all, cap), 4.0));
        assert!(close(b.take(t2, all, cap), 0.0));
        // A wait that ran over is charged: 1 ms over is 2 ms before credit comes again.
        b.settle(Duration::ZERO, Duration::from_millis(1));
        assert!(close(b.take(t2 + Duration::from_millis(2), all, cap), 0.0));
        assert!(close(b.take(t2 + Duration::from_millis(4), all, cap), 1.0));
    }

    #[test]
    fn a_zero_share_grants_nothing() {
        assert_eq!(WaitBudget::new(0.0).take(Instant::now(), Duration::from_secs(1), Duration::from_secs(1)), Duration::ZERO);
    }
}
