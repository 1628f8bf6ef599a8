//! How the engine is asked to run an experiment, besides its configuration.

use crate::hub::HubSettings;

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub hub: HubSettings,
    /// Compute the teacher's outputs once instead of in every step (same results, faster).
    pub teacher_cache: bool,
    /// Move an existing experiment folder aside and start over instead of resuming.
    pub fresh: bool,
    /// The data are generated (the demo): front ends say so.
    pub synthetic: bool,
}

impl EngineOptions {
    pub fn new(hub: HubSettings) -> Self {
        Self { hub, teacher_cache: true, fresh: false, synthetic: false }
    }
}
