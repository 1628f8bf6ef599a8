//! Adam as the runs use it (betas 0.9 / 0.999, eps 1e-8 as PyTorch): burn's `Adam` arithmetic
//! and state, with the update of each tensor done by [`FastOps::adam_step`] (on burn-flex, one
//! fused, in-place, multi-threaded pass instead of ~13 single-threaded ones). The state is
//! burn's `AdamState`, so its records (in resume checkpoints) are the same as burn's Adam's.

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::tensor::Tensor;

use crate::model::BertClassifier;
use crate::ops::{AdamHyper, AdamMoments, FastOps, TrainBackend};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedAdam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

impl Default for FusedAdam {
    fn default() -> Self {
        FusedAdam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8 }
    }
}

/// The optimizer of a run over `BertClassifier<B>`.
pub type RunOptimizer<B> = OptimizerAdaptor<FusedAdam, BertClassifier<B>, B>;

/// A fresh optimizer for a run.
pub fn optimizer<B: TrainBackend>() -> RunOptimizer<B> {
    OptimizerAdaptor::from(FusedAdam::default())
}

impl<B: FastOps> SimpleOptimizer<B> for FusedAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let moments = state.map(|s| AdamMoments {
            moment_1: s.momentum.moment_1,
            moment_2: s.momentum.moment_2,
            time: s.momentum.time,
        });
        let hyper = AdamHyper { lr, beta_1: self.beta_1, beta_2: self.beta_2, epsilon: self.epsilon };
        let (tensor, m) = B::adam_step(tensor, grad, moments, hyper);
        (tensor, Some(AdamState::new(AdaptiveMomentumState::new(m.time, m.moment_1, m.moment_2))))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}
