//! The ONNX CRN through ONNX Runtime: one environment per process, one session per instance.
//!
//! The runtime library is loaded at run time from `$CRN_ORT_LIB` when that is set (and then
//! only from there), else from the path a host program gave [`use_runtime_library`] (the Python
//! package: the `onnxruntime` wheel's library), else from the directory of the binary that holds this code (the plugin's
//! `.so` inside its bundle, or the CLI), and that directory's `lib/`. Only under cargo (`cargo
//! run`, `cargo test`, which set `CARGO_MANIFEST_DIR` in the environment) is the checkout's
//! `runtime/` folder tried as well: a shipped binary never looks at the build machine's paths.
//! Every failure is returned as text for the editor or the CLI: a plugin must never take the
//! host down because a file is missing.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

pub use crate::bound::Bound;

use crate::stft::MODEL_BINS;

/// The shipped model, built into every binary so the plugin and the CLI work on their own.
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../../../assets/crn.onnx");
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.32.0";

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
static RUNTIME_LIBRARY: OnceLock<PathBuf> = OnceLock::new();

/// Loads ONNX Runtime from `path` (unless `$CRN_ORT_LIB` is set): for a host that ships the
/// library elsewhere than beside this code, such as the Python package, whose runtime is the
/// `onnxruntime` wheel's. Must come before the first model loads; false if it came too late
/// (the environment already exists) or a different path was given before.
pub fn use_runtime_library(path: &Path) -> bool {
    let first = RUNTIME_LIBRARY.get_or_init(|| path.to_path_buf()) == path;
    first && ENVIRONMENT.get().is_none()
}

/// Directory of the shared object or executable that contains this function.
pub fn own_binary_dir() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let addr = own_binary_dir as *const libc::c_void;
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return std::env::current_exe().ok()?.parent().map(Path::to_path_buf);
    }
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(name.to_string_lossy().into_owned());
    let path = path.canonicalize().unwrap_or(path);
    path.parent().map(Path::to_path_buf)
}

fn runtime_candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os("CRN_ORT_LIB") {
        return vec![PathBuf::from(p)];
    }
    if let Some(p) = RUNTIME_LIBRARY.get() {
        return vec![p.clone()];
    }
    if let Some(dir) = own_binary_dir() {
        c.push(dir.join(ORT_LIB_NAME));
        c.push(dir.join("lib").join(ORT_LIB_NAME));
    }
    // `cargo run` / `cargo test` in a checkout (scripts/fetch-onnxruntime.sh). Read at run time,
    // never baked in: `env!` would make every release binary probe the build machine's path.
    // The package may be a workspace member below the checkout's root: try each ancestor.
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        c.extend(Path::new(&dir).ancestors().map(|d| d.join("runtime").join(ORT_LIB_NAME)));
    }
    c
}

/// The process-wide ONNX Runtime environment, created on first use.
pub fn environment() -> Result<&'static ort::environment::Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            let lib = runtime_candidates()
                .into_iter()
                .find(|p| p.is_file())
                .ok_or_else(|| format!("ONNX Runtime library not found: {}", describe(&runtime_candidates())))?;
            catch(|| {
                ort::init_from(&lib)
                    .map_err(|e| format!("cannot load {}: {e}", lib.display()))?
                    .with_name("crn-denoise")
                    .with_telemetry(false)
                    .build()
                    .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn describe(candidates: &[PathBuf]) -> String {
    match candidates {
        [one] => one.display().to_string(),
        _ => format!("{ORT_LIB_NAME} next to the plugin (or $CRN_ORT_LIB)"),
    }
}

/// Runs `f`, turning a panic into an error so nothing unwinds into the host.
pub fn catch<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("internal error: {msg}"))
    })
}

/// What the model's metadata and signature say about it.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub name: String,
    /// Floats of recurrent state per channel, all state tensors together.
    pub state_size: usize,
    pub params: String,
    /// The state tensors, in the graph's input order.
    pub states: Vec<StateSpec>,
}

/// One recurrent state tensor: input `name`, output `new_<name>`, its shape with the batch axis
/// (the only dynamic one) at `batch_axis`.
#[derive(Clone, Debug)]
pub struct StateSpec {
    pub name: String,
    pub next: String,
    pub dims: Vec<usize>,
    pub batch_axis: usize,
}

impl StateSpec {
    /// The tensor's shape for `channels` channels.
    pub fn shape(&self, channels: usize) -> Vec<i64> {
        let mut s: Vec<i64> = self.dims.iter().map(|&d| d as i64).collect();
        s[self.batch_axis] = channels as i64;
        s
    }
}

/// The ONNX contract this engine runs (`CONTRACT` in training/crn_train/stream.py).
pub const CONTRACT: &str = "crn-stream-3";

/// A loaded streaming CRN: `estimate, new_<state>... = model(mag[B,T,161], <state>...)` for any
/// number of frames T, run through a [`Bound`] that owns one channel count's tensors.
pub struct Model {
    pub(crate) session: Mutex<Session>,
    pub info: ModelInfo,
}

impl Model {
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read model {}: {e}", path.display()))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Self::from_bytes(&bytes, &name)
    }

    pub fn embedded() -> Result<Self, String> {
        Self::from_bytes(EMBEDDED_MODEL, "crn")
    }

    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, String> {
        let env = environment()?;
        catch(|| {
            let err = |e: ort::Error| format!("model {name}: {e}");
            // One thread and no spinning: the engine's worker is one thread that sleeps between
            // frames, and spinning measured no faster (scripts/bench.py) while it would burn a
            // core the host needs. The exported graph is already minimal, so every optimisation
            // level runs it equally fast (measured there too); `All` costs nothing at build.
            let session = Session::builder(env)
                .map_err(err)?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(|e| err(e.into()))?
                .with_intra_threads(1)
                .map_err(|e| err(e.into()))?
                .with_inter_threads(1)
                .map_err(|e| err(e.into()))?
                .with_intra_op_spinning(false)
                .map_err(|e| err(e.into()))?
                .with_inter_op_spinning(false)
                .map_err(|e| err(e.into()))?
                .commit_from_memory(bytes)
                .map_err(err)?;
            let info = check_contract(&session, name)?;
            let model = Model { session: Mutex::new(session), info };
            // One frame through the graph proves the shapes agree before any audio depends on it.
            let mut bound = model.bind(1).map_err(|e| format!("model {name}: {e}"))?;
            bound
                .run(&model, &[0.0; MODEL_BINS], &mut [0.0; MODEL_BINS])
                .map_err(|e| format!("model {name} does not run one frame: {e}"))?;
            Ok(model)
        })
        // ONNX Runtime's messages span lines; the editor and the CLI show one.
        .map_err(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Tensors for `channels` channels bound to this model's session (allocates: call it off the
    /// audio thread). The session keeps the graph's symbolic batch rather than one session per
    /// channel count with the batch fixed: fixing it (ORT's free-dimension override) measured no
    /// faster, and a second session would cost an instance its start-up and memory again.
    pub fn bind(&self, channels: usize) -> Result<Bound, String> {
        let session = self.session.lock().map_err(|_| "model lock poisoned".to_string())?;
        Bound::new(&session, &self.info.states, channels).map_err(|e| e.to_string())
    }
}

/// The contract every model must keep: the signature and metadata written by
/// `training/crn_train/stream.py`. A model of the first contract (one flat `state` input) is
/// named as such, so whoever holds one knows to re-export it.
fn check_contract(session: &Session, name: &str) -> Result<ModelInfo, String> {
    let meta = session.metadata().map_err(|e| format!("model {name}: no metadata: {e}"))?;
    let get = |k: &str| meta.custom(k).ok_or_else(|| format!("model {name}: metadata '{k}' missing"));
    let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    match meta.custom("contract") {
        Some(c) if c == CONTRACT => {}
        other => {
            let what = match other {
                None if inputs == ["mag", "state"] => "the old single-state contract (inputs mag, state)".to_string(),
                None => "no contract in its metadata".to_string(),
                Some(c) => format!("contract {c}"),
            };
            return Err(format!(
                "model {name}: {what}, this engine needs {CONTRACT}: re-export it with `python -m crn_train.export`"
            ));
        }
    }
    for (key, want) in [("sample_rate", "16000"), ("frame_length", "320"), ("hop_length", "160"), ("n_bins", "161"), ("output_kind", "magnitude")] {
        let got = get(key)?;
        if got != want {
            return Err(format!("model {name}: {key} is {got}, this engine needs {want}"));
        }
    }
    let state_size = get("state_size")?
        .parse::<usize>()
        .map_err(|_| format!("model {name}: state_size is not a number"))?;
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if inputs.first() != Some(&"mag") || outputs.first() != Some(&"estimate") {
        return Err(format!("model {name}: inputs {inputs:?} / outputs {outputs:?}, expected [mag, <states>] / [estimate, new_<states>]"));
    }
    // [batch, frames, 161]: the batch and the frames free, the bins fixed.
    for (what, outlet) in [("mag", &session.inputs()[0]), ("estimate", &session.outputs()[0])] {
        let shape = outlet.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        if shape.len() != 3 || shape[0] >= 0 || shape[1] >= 0 || shape[2] != MODEL_BINS as i64 {
            return Err(format!("model {name}: {what} has shape {shape:?}, expected [batch, frames, {MODEL_BINS}]"));
        }
    }
    let mut states = Vec::new();
    for input in &session.inputs()[1..] {
        let spec = state_spec(input, &outputs).map_err(|e| format!("model {name}: {e}"))?;
        states.push(spec);
    }
    if outputs.len() != states.len() + 1 {
        return Err(format!("model {name}: {} outputs for {} states, expected estimate and new_<state> for each", outputs.len(), states.len()));
    }
    let total: usize = states.iter().map(|s| s.dims.iter().product::<usize>()).sum();
    if total != state_size {
        return Err(format!("model {name}: state_size is {state_size}, its state tensors hold {total} floats per channel"));
    }
    Ok(ModelInfo { name: name.to_string(), state_size, params: meta.custom("params").unwrap_or_default(), states })
}

/// A state input's name, its output and shape: every dimension static but one, the batch.
fn state_spec(input: &ort::value::Outlet, outputs: &[&str]) -> Result<StateSpec, String> {
    let name = input.name().to_string();
    let next = format!("new_{name}");
    if !outputs.contains(&next.as_str()) {
        return Err(format!("state input {name} has no output {next}"));
    }
    let shape = input.dtype().tensor_shape().ok_or_else(|| format!("state {name} is not a tensor"))?;
    let batch: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] < 0).collect();
    if batch.len() != 1 {
        return Err(format!("state {name} has shape {:?}: expected exactly one dynamic (batch) dimension", &shape[..]));
    }
    let dims = shape.iter().map(|&d| d.max(1) as usize).collect();
    Ok(StateSpec { name, next, dims, batch_axis: batch[0] })
}
