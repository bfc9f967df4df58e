//! Ctrl-C during a long call. The GIL is released while audio is processed, so Python's signal
//! handlers cannot run until the call returns: a long file would render to its end first. The
//! render and encode loops ask `crn_cli::interrupt::requested` between blocks; here that also
//! takes the GIL for a moment and runs Python's pending handlers (`PyErr_CheckSignals`, which
//! does so on the main thread only). The exception a handler raises (KeyboardInterrupt) stops
//! the render as the CLI's Ctrl-C does, its temporary file removed, and is what the call raises.

use std::cell::RefCell;

use pyo3::prelude::*;

thread_local! {
    /// The exception a signal handler raised while this thread rendered.
    static RAISED: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

fn handler_raised() -> bool {
    Python::attach(|py| match py.check_signals() {
        Ok(()) => false,
        Err(e) => {
            RAISED.with(|r| *r.borrow_mut() = Some(e));
            true
        }
    })
}

/// Runs `f` with the GIL released, stopping it between blocks when a signal handler raises;
/// that exception is then the result.
pub fn interruptible<T: Send>(py: Python<'_>, f: impl FnOnce() -> PyResult<T> + Send) -> PyResult<T> {
    let out = py.detach(|| crn_cli::interrupt::with_check(handler_raised, f));
    match RAISED.with(|r| r.borrow_mut().take()) {
        Some(e) => Err(e),
        None => out,
    }
}
