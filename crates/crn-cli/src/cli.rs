//! The `crn-denoise` command: files in, denoised files out, through exactly the plugin's
//! engine in offline mode (what a host's bounce renders). [`args`] reads the command line,
//! [`plan`] names and guards the outputs, [`pipeline`] runs one file, [`stream`] is the render
//! itself (shared with the Python package).

pub mod args;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod stream;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Parser;
use rayon::prelude::*;

pub use args::{Args, Format, Stems};
pub use stream::{denoise_stream, Sink, Source, BLOCK};
pub use plan::{output_name, removed_path, AUDIO_EXTENSIONS};
use crn_engine::model;

/// Exit status when some file failed (the others were still written).
pub const EXIT_FILE_FAILED: i32 = 1;
/// Exit status for usage errors and a model (or ONNX Runtime) that cannot be loaded.
pub const EXIT_SETUP: i32 = 2;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;
/// Parses the command line, runs, and returns the exit status.
pub fn main() -> i32 {
    // Panics are caught per file and reported as that file's error; the default hook's
    // message would only repeat it (set RUST_BACKTRACE to see it).
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    crate::interrupt::install();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_SETUP } else { 0 };
        }
    };
    run(args)
}

fn setup_error(msg: impl std::fmt::Display) -> i32 {
    eprintln!("crn-denoise: {msg}");
    EXIT_SETUP
}

pub fn run(args: Args) -> i32 {
    let (jobs, mut failures) = match plan::jobs(&args) {
        Ok(j) => j,
        Err(e) => return setup_error(e),
    };

    let pool = match pipeline::ModelPool::new(args.model.clone()) {
        Ok(p) => Arc::new(p),
        Err(e) => return setup_error(format_args!("cannot load the model: {e}")),
    };

    let threads = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let threads = threads.min(jobs.len().max(1));
    let thread_pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => return setup_error(format_args!("cannot start worker threads: {e}")),
    };

    let claims = plan::Claims::new(&jobs);

    let progress = progress::Progress::new(jobs.len(), args.quiet);
    let start = Instant::now();
    let audio_seconds = Mutex::new(0.0f64);
    let settings = args.settings();

    let results: Vec<Result<pipeline::Done, String>> = thread_pool.install(|| {
        jobs.par_iter()
            .map(|job| {
                let r = model::catch(|| pipeline::process(job, &args, settings, &pool, &claims, &progress));
                if let Ok(d) = &r {
                    *audio_seconds.lock().unwrap_or_else(|p| p.into_inner()) += d.seconds;
                }
                progress.file_done();
                r
            })
            .collect()
    });
    progress.finish();

    for (job, r) in jobs.iter().zip(&results) {
        match r {
            Ok(d) if !args.quiet => println!("{} -> {}", job.input.display(), d.output.display()),
            Ok(_) => {}
            Err(e) => failures.push((job.input.clone(), e.clone())),
        }
    }
    // Warnings even with --quiet: a clipped output is damaged, and scripts should hear of it.
    for d in results.iter().flatten() {
        for w in &d.warnings {
            eprintln!("crn-denoise: warning: {w}");
        }
    }
    if !args.quiet && results.iter().any(Result::is_ok) {
        let secs = *audio_seconds.lock().unwrap_or_else(|p| p.into_inner());
        let wall = start.elapsed().as_secs_f64().max(1e-6);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        eprintln!("crn-denoise: {ok} file(s), {secs:.1} s of audio in {wall:.1} s ({:.0}x realtime)", secs / wall);
    }
    if crate::interrupt::requested() {
        eprintln!("crn-denoise: interrupted; unfinished outputs removed");
        return EXIT_INTERRUPTED;
    }
    for (path, e) in &failures {
        eprintln!("crn-denoise: {}: {e}", path.display());
    }
    if failures.is_empty() {
        0
    } else {
        EXIT_FILE_FAILED
    }
}
