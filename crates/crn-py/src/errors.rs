//! Engine and CLI errors (plain text) as Python exceptions, and panics caught at the boundary.

use pyo3::exceptions::{PyFileExistsError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// A bad argument: a value out of range, a rate the engine does not run at.
pub fn value(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// The model or ONNX Runtime cannot be loaded or fails.
pub fn runtime(msg: String) -> PyErr {
    PyRuntimeError::new_err(msg)
}

/// A file that cannot be read, decoded or written. The CLI's refusal to replace an output is a
/// `FileExistsError`, so a caller can tell it from a broken input.
pub fn file(msg: String) -> PyErr {
    if msg.contains("already exists; not replaced") {
        PyFileExistsError::new_err(msg)
    } else {
        PyOSError::new_err(msg)
    }
}

/// Runs `f`, a panic turned into an error (`crn_engine::model::catch`), then into `to_py`'s
/// exception.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, String>, to_py: fn(String) -> PyErr) -> Result<T, PyErr> {
    crn_engine::model::catch(f).map_err(to_py)
}
