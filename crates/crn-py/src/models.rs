//! Loaded models, shared by every call in the process: one pool per model file (`None`: the
//! built-in model), from the CLI's [`ModelPool`]. A session runs one inference at a time, so
//! each render or stream takes a model of its own from the pool and gives it back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crn_cli::cli::pipeline::ModelPool;
use crn_engine::model::Model;

static POOLS: OnceLock<Mutex<HashMap<Option<PathBuf>, Arc<ModelPool>>>> = OnceLock::new();

/// The pool of `path`'s model (the built-in one for `None`), loaded on first use. A model that
/// fails to load is not remembered, so a fixed file can be tried again.
pub fn pool(path: Option<PathBuf>) -> Result<Arc<ModelPool>, String> {
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = pools.get(&path) {
        return Ok(p.clone());
    }
    let p = Arc::new(ModelPool::new(path.clone())?);
    pools.insert(path, p.clone());
    Ok(p)
}

/// A model taken from a pool for as long as this lives, then given back.
pub struct Lease {
    pool: Arc<ModelPool>,
    model: Arc<Model>,
}

impl Lease {
    pub fn take(path: Option<PathBuf>) -> Result<Self, String> {
        let pool = pool(path)?;
        let model = pool.take();
        Ok(Self { pool, model })
    }

    pub fn model(&self) -> Arc<Model> {
        self.model.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.give(self.model.clone());
    }
}
