//! Progress on the terminal: a bar per file being denoised (frames decoded against the length the
//! file states, a spinner where it states none) under a line for the whole run with the files
//! done and the real-time factor so far. Hidden with `--quiet` (and by indicatif when stderr is
//! not a terminal).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: MultiProgress,
    files: ProgressBar,
    start: Instant,
    /// Audio decoded so far in all files, in microseconds, for the real-time factor.
    audio_us: AtomicU64,
}

impl Progress {
    pub fn new(files: usize, quiet: bool) -> Self {
        let multi = MultiProgress::with_draw_target(if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() });
        let bar = multi.add(ProgressBar::new(files as u64));
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} files  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { multi, files: bar, start: Instant::now(), audio_us: AtomicU64::new(0) }
    }

    /// A bar for one file of `frames` frames (if stated) at `rate`; removed when dropped.
    pub fn file(&self, input: &Path, frames: Option<u64>, rate: u32) -> FileProgress<'_> {
        let bar = self.multi.add(match frames {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        });
        let name = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
        let template = if frames.is_some() { "  {bar:30} {percent:>3}%  {msg}" } else { "  {spinner}  {msg}" };
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.set_message(name);
        FileProgress { progress: self, bar, rate: rate.max(1) as u64, frames: 0 }
    }

    /// One more file done (written or failed).
    pub fn file_done(&self) {
        self.files.inc(1);
    }

    pub fn finish(&self) {
        self.files.finish_and_clear();
    }
}

/// One file's bar; [`FileProgress::update`] as frames are decoded.
pub struct FileProgress<'a> {
    progress: &'a Progress,
    bar: ProgressBar,
    rate: u64,
    frames: u64,
}

impl FileProgress<'_> {
    /// `frames` of the file have been decoded (and are being denoised).
    pub fn update(&mut self, frames: u64) {
        let us = |f: u64| f * 1_000_000 / self.rate;
        let added = us(frames).saturating_sub(us(self.frames));
        self.frames = frames;
        self.bar.set_position(frames);
        let p = self.progress;
        let audio = p.audio_us.fetch_add(added, Ordering::Relaxed) + added;
        let rtf = audio as f64 / p.start.elapsed().as_micros().max(1) as f64;
        p.files.set_message(format!("{rtf:.0}x realtime"));
    }
}

impl Drop for FileProgress<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        self.progress.multi.remove(&self.bar);
    }
}
