//! BertForSequenceClassification in burn, laid out like transformers' module tree so that the
//! parameter paths are the Hugging Face key names (up to `self` -> `self_attn` and
//! `LayerNorm` -> `layer_norm`, which Rust field names cannot spell). The same model is every
//! member of the BERT family (`family.rs`): RoBERTa's positions after the padding index and
//! single token type, ELECTRA's narrower embeddings projected to the hidden size, DistilBERT's
//! missing token types, and each family's head are fields of it, set from `config.json`.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu_approximate, relu};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::config::{Activation, BertConfig};
use super::family::{HeadActivation, Positions};
use crate::experiment::Precision;
use crate::ops::FastOps;

/// One batch of encoded text; all tensors are `[batch, seq]`.
#[derive(Debug, Clone)]
pub struct BertInput<B: Backend> {
    pub input_ids: Tensor<B, 2, Int>,
    pub token_type_ids: Tensor<B, 2, Int>,
    /// 1 for real tokens, 0 for padding; `None` when the batch has no padding (every token
    /// attends to every token, and the mask is not computed at all).
    pub attention_mask: Option<Tensor<B, 2, Int>>,
}

/// What a forward pass gives: logits `[batch, labels]`, the last hidden states
/// `[batch, seq, hidden]` and the [CLS] hidden state `[batch, hidden]`.
#[derive(Debug, Clone)]
pub struct BertOutput<B: Backend> {
    pub logits: Tensor<B, 2>,
    pub last_hidden: Tensor<B, 3>,
    pub cls_hidden: Tensor<B, 2>,
}

/// What [`BertModel::forward`] gives: the last hidden states `[batch, seq, hidden]` and the
/// first token's ([CLS]) hidden state `[batch, hidden]`, in f32, and that state again in the
/// model's precision, for the head.
#[derive(Debug, Clone)]
pub struct BertModelOutput<B: Backend> {
    pub last_hidden: Tensor<B, 3>,
    pub cls_hidden: Tensor<B, 2>,
    pub first: Tensor<B, 2>,
}

#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Embedding<B>,
    /// None for DistilBERT, which has no token types.
    pub token_type_embeddings: Option<Embedding<B>>,
    pub layer_norm: LayerNorm<B>,
    dropout: Dropout,
    /// `layer_norm_eps` (burn's `LayerNorm` keeps its own private).
    eps: f64,
    positions: Positions,
    /// Whether token types are read (else every token is type 0: RoBERTa's single type).
    token_types: bool,
}

#[derive(Module, Debug)]
pub struct BertSelfAttention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    dropout: Dropout,
    num_heads: usize,
}

/// transformers' `BertSelfOutput` and `BertOutput`: dense, dropout, residual, LayerNorm.
#[derive(Module, Debug)]
pub struct BertResidual<B: Backend> {
    pub dense: Linear<B>,
    pub layer_norm: LayerNorm<B>,
    dropout: Dropout,
    eps: f64,
}

#[derive(Module, Debug)]
pub struct BertAttention<B: Backend> {
    pub self_attn: BertSelfAttention<B>,
    pub output: BertResidual<B>,
}

#[derive(Module, Debug)]
pub struct BertIntermediate<B: Backend> {
    pub dense: Linear<B>,
    act: Activation,
}

/// One encoder layer; students are built from copies of these.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    pub attention: BertAttention<B>,
    pub intermediate: BertIntermediate<B>,
    pub output: BertResidual<B>,
}

#[derive(Module, Debug)]
pub struct BertEncoder<B: Backend> {
    pub layer: Vec<BertLayer<B>>,
}

#[derive(Module, Debug)]
pub struct BertPooler<B: Backend> {
    pub dense: Linear<B>,
}

#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    pub embeddings: BertEmbeddings<B>,
    /// ELECTRA's projection of narrower embeddings to the hidden size.
    pub embeddings_project: Option<Linear<B>>,
    pub encoder: BertEncoder<B>,
    /// The head's dense layer: BERT's pooler, RoBERTa's and ELECTRA's `classifier.dense`,
    /// DistilBERT's `pre_classifier`.
    pub pooler: BertPooler<B>,
    /// The number format of the encoder and the heads (the parameters stay f32).
    precision: Precision,
}

/// BertForSequenceClassification (and each family's ...ForSequenceClassification).
#[derive(Module, Debug)]
pub struct BertClassifier<B: Backend> {
    pub bert: BertModel<B>,
    dropout: Dropout,
    pub classifier: Linear<B>,
    /// The activation after the head's dense layer.
    head: HeadActivation,
    /// Dropout on the first token's state before the head's dense layer too.
    dropout_first: bool,
}

/// Draws initial weights from its own seeded generator (not burn's process-wide one), so a
/// model's initialization depends on its seed alone, whatever else runs in the process.
struct Init<'a, B: Backend> {
    rng: ChaCha8Rng,
    std: f64,
    device: &'a B::Device,
}

impl<B: Backend> Init<'_, B> {
    fn normal<const D: usize>(&mut self, shape: [usize; D]) -> Param<Tensor<B, D>> {
        let normal = Normal::new(0.0f32, self.std as f32).expect("std is positive");
        let n = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| normal.sample(&mut self.rng)).collect();
        Param::from_tensor(Tensor::from_data(TensorData::new(data, shape), self.device))
    }

    fn constant(&self, d: usize, value: f32) -> Param<Tensor<B, 1>> {
        Param::from_tensor(Tensor::full([d], value, self.device))
    }

    /// transformers' BERT initialization: weights from N(0, initializer_range), biases 0.
    fn linear(&mut self, d_in: usize, d_out: usize) -> Linear<B> {
        Linear { weight: self.normal([d_in, d_out]), bias: Some(self.constant(d_out, 0.0)) }
    }

    fn embedding(&mut self, n: usize, d: usize) -> Embedding<B> {
        let mut e = EmbeddingConfig::new(n, d).with_initializer(Initializer::Zeros).init(self.device);
        e.weight = self.normal([n, d]);
        e
    }

    fn layer_norm(&self, c: &BertConfig) -> LayerNorm<B> {
        self.layer_norm_of(c, c.hidden_size)
    }

    fn layer_norm_of(&self, c: &BertConfig, d: usize) -> LayerNorm<B> {
        let mut ln = LayerNormConfig::new(d).with_epsilon(c.layer_norm_eps).init(self.device);
        ln.gamma = self.constant(d, 1.0);
        ln.beta = Some(self.constant(d, 0.0));
        ln
    }
}

impl<B: Backend> BertLayer<B> {
    fn new(c: &BertConfig, init: &mut Init<'_, B>) -> Self {
        let h = c.hidden_size;
        let residual = |init: &mut Init<'_, B>, d_in| BertResidual {
            dense: init.linear(d_in, h),
            layer_norm: init.layer_norm(c),
            dropout: DropoutConfig::new(c.hidden_dropout_prob).init(),
            eps: c.layer_norm_eps,
        };
        let self_attn = BertSelfAttention {
            query: init.linear(h, h),
            key: init.linear(h, h),
            value: init.linear(h, h),
            dropout: DropoutConfig::new(c.attention_probs_dropout_prob).init(),
            num_heads: c.num_attention_heads,
        };
        let attention = BertAttention { self_attn, output: residual(init, h) };
        let intermediate = BertIntermediate { dense: init.linear(h, c.intermediate_size), act: c.hidden_act };
        Self { attention, intermediate, output: residual(init, c.intermediate_size) }
    }
}

/// `x @ W + b` through [`FastOps::linear`] (one matrix product over all tokens), in `x`'s
/// number format: under bf16 the f32 weights are cast for the product (the cast's backward pass
/// casts their gradients back to f32, for the f32 optimizer).
fn linear<B: FastOps, const D: usize>(l: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let dtype = x.dtype();
    B::fast_linear(x, l.weight.val().cast(dtype), l.bias.as_ref().map(|b| b.val().cast(dtype)))
}

/// `LayerNorm(x + residual)`; its statistics always in f32 (a bf16 input is widened, the
/// output narrowed back).
fn layer_norm<B: FastOps>(
    ln: &LayerNorm<B>,
    eps: f64,
    x: Tensor<B, 3>,
    residual: Option<Tensor<B, 3>>,
) -> Tensor<B, 3> {
    let beta = match &ln.beta {
        Some(b) => b.val(),
        None => Tensor::zeros(ln.gamma.dims(), &ln.gamma.device()),
    };
    let dtype = x.dtype();
    let (x, residual) = (x.cast(DType::F32), residual.map(|r| r.cast(DType::F32)));
    B::fast_layer_norm(x, residual, ln.gamma.val(), beta, eps).cast(dtype)
}

impl<B: FastOps> BertLayer<B> {
    /// `x`: `[batch, seq, hidden]`; `key_bias`: `[batch, seq]`, 0 for tokens and a large
    /// negative number for padding (`None`: no padding).
    pub fn forward(&self, x: Tensor<B, 3>, key_bias: Option<Tensor<B, 2>>) -> Tensor<B, 3> {
        let attn = self.attention.self_attn.forward(x.clone(), key_bias);
        let attn = self.attention.output.forward(attn, x);
        let inner = self.intermediate.forward(attn.clone());
        self.output.forward(inner, attn)
    }
}

impl<B: FastOps> BertSelfAttention<B> {
    fn forward(&self, x: Tensor<B, 3>, key_bias: Option<Tensor<B, 2>>) -> Tensor<B, 3> {
        let q = linear(&self.query, x.clone());
        let k = linear(&self.key, x.clone());
        let v = linear(&self.value, x);
        B::fast_attention(q, k, v, key_bias, self.num_heads, self.dropout.prob)
    }
}

impl<B: FastOps> BertResidual<B> {
    fn forward(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = B::fast_dropout(linear(&self.dense, x), self.dropout.prob);
        layer_norm(&self.layer_norm, self.eps, x, Some(residual))
    }
}

impl<B: FastOps> BertIntermediate<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = linear(&self.dense, x);
        match self.act {
            Activation::Gelu => B::fast_gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
        }
    }
}

impl<B: FastOps> BertEmbeddings<B> {
    fn forward(&self, input_ids: Tensor<B, 2, Int>, token_type_ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let positions = match self.positions {
            Positions::Absolute => {
                Tensor::<B, 1, Int>::arange(0..seq as i64, &device).reshape([1, seq]).repeat_dim(0, batch)
            }
            // RoBERTa: real tokens count from padding_idx + 1, padding stays at padding_idx.
            Positions::AfterPadding(pad) => {
                let real = input_ids.clone().not_equal_elem(pad as i64).int();
                real.clone().cumsum(1).mul(real).add_scalar(pad as i64)
            }
        };
        let lookup = |e: &Embedding<B>, ids| B::fast_embedding(e.weight.val(), ids);
        let x = lookup(&self.word_embeddings, input_ids) + lookup(&self.position_embeddings, positions);
        let types = self.token_type_embeddings.as_ref().map(|table| {
            let ids = if self.token_types { token_type_ids } else { token_type_ids.zeros_like() };
            lookup(table, ids)
        });
        let x = layer_norm(&self.layer_norm, self.eps, x, types);
        B::fast_dropout(x, self.dropout.prob)
    }
}

impl<B: Backend> BertClassifier<B> {
    /// A model of the config's shape, initialized as transformers does (N(0,
    /// initializer_range) weights, zero biases, unit LayerNorms) from `seed` alone.
    pub fn new(c: &BertConfig, seed: u64, device: &B::Device) -> Self {
        let h = c.hidden_size;
        let mut init = Init { rng: ChaCha8Rng::seed_from_u64(seed), std: c.initializer_range, device };
        let e = c.embedding_size;
        let f = c.family;
        let embeddings = BertEmbeddings {
            word_embeddings: init.embedding(c.vocab_size, e),
            position_embeddings: init.embedding(c.max_position_embeddings, e),
            token_type_embeddings: f.has_token_type_table().then(|| init.embedding(c.type_vocab_size, e)),
            layer_norm: init.layer_norm_of(c, e),
            dropout: DropoutConfig::new(c.hidden_dropout_prob).init(),
            eps: c.layer_norm_eps,
            positions: f.positions(c.pad_token_id),
            token_types: f.token_types(),
        };
        let embeddings_project = (e != h).then(|| init.linear(e, h));
        let layer = (0..c.num_hidden_layers).map(|_| BertLayer::new(c, &mut init)).collect();
        let pooler = BertPooler { dense: init.linear(h, h) };
        let encoder = BertEncoder { layer };
        Self {
            bert: BertModel { embeddings, embeddings_project, encoder, pooler, precision: Precision::F32 },
            dropout: DropoutConfig::new(c.classifier_dropout).init(),
            classifier: init.linear(h, c.num_labels()),
            head: f.head_activation(),
            dropout_first: f.dropout_before_head(),
        }
    }

    pub fn num_layers(&self) -> usize {
        self.bert.encoder.layer.len()
    }

    /// Encoder layer `i` (0-based).
    pub fn layer(&self, i: usize) -> &BertLayer<B> {
        &self.bert.encoder.layer[i]
    }

    /// The same model computing in `precision` (its parameters stay f32).
    pub fn with_precision(self, precision: Precision) -> Self {
        Self { bert: BertModel { precision, ..self.bert }, ..self }
    }

    pub fn precision(&self) -> Precision {
        self.bert.precision
    }

    /// The same model with other encoder layers (embeddings, pooler and classifier kept).
    pub fn with_layers(self, layer: Vec<BertLayer<B>>) -> Self {
        Self { bert: BertModel { encoder: BertEncoder { layer }, ..self.bert }, ..self }
    }

    /// Reorders the classifier's outputs: new label `j` is old label `order[j]`.
    pub fn permute_labels(self, order: &[usize]) -> Self {
        let device = self.classifier.weight.device();
        let idx = Tensor::<B, 1, Int>::from_data(
            burn::tensor::TensorData::new(order.iter().map(|&i| i as i64).collect::<Vec<_>>(), [order.len()]),
            &device,
        );
        let classifier = Linear {
            weight: self.classifier.weight.clone().map(|w| w.select(1, idx.clone())),
            bias: self.classifier.bias.clone().map(|b| b.map(|b| b.select(0, idx.clone()))),
        };
        Self { classifier, ..self }
    }
}

impl<B: FastOps> BertEncoder<B> {
    /// Every layer in turn; `x` and `key_bias` as in [`BertLayer::forward`].
    pub fn forward(&self, x: Tensor<B, 3>, key_bias: Option<Tensor<B, 2>>) -> Tensor<B, 3> {
        self.layer.iter().fold(x, |x, layer| layer.forward(x, key_bias.clone()))
    }
}

impl<B: FastOps> BertPooler<B> {
    /// `activation(dense(cls_hidden))`, `[batch, hidden]`: BERT's pooler is tanh.
    pub fn forward(&self, cls_hidden: Tensor<B, 2>, activation: HeadActivation) -> Tensor<B, 2> {
        let x = linear(&self.dense, cls_hidden);
        match activation {
            HeadActivation::Tanh => x.tanh(),
            HeadActivation::Gelu => B::fast_gelu(x),
            HeadActivation::Relu => relu(x),
        }
    }
}

impl<B: FastOps> BertModel<B> {
    /// Embeddings (projected to the hidden size, for ELECTRA) and encoder: transformers'
    /// `BertModel` without the pooler. The embeddings are summed and normalized in f32; under
    /// bf16 the encoder then computes in bf16, and the first token's state is left in bf16 for the
    /// head (the hidden states are given as f32).
    pub fn forward(&self, input: BertInput<B>) -> BertModelOutput<B> {
        let [batch, _] = input.input_ids.dims();
        // transformers' extended attention mask, (1 - mask) * finfo(float32).min, added to the
        // scores of every query (in f32, where the softmax is); not built at all for a batch
        // without padding.
        let key_bias = input.attention_mask.map(|m| (m.float().neg() + 1.0) * f32::MIN as f64);
        let x = self.embeddings.forward(input.input_ids, input.token_type_ids).cast(self.precision.dtype());
        let x = match &self.embeddings_project {
            Some(project) => linear(project, x),
            None => x,
        };
        let last_hidden = self.encoder.forward(x, key_bias);
        let hidden = last_hidden.dims()[2];
        let first = last_hidden.clone().slice([0..batch, 0..1, 0..hidden]).reshape([batch, hidden]);
        BertModelOutput { last_hidden: last_hidden.cast(DType::F32), cls_hidden: first.clone().cast(DType::F32), first }
    }
}

impl<B: FastOps> BertClassifier<B> {
    /// [`BertModel::forward`], then the family's head on the first token ([CLS], `<s>`): dropout
    /// first (RoBERTa, ELECTRA), the dense layer and its activation, dropout, the output layer.
    /// The logits are f32 whatever the precision (the loss is computed in f32).
    pub fn forward(&self, input: BertInput<B>) -> BertOutput<B> {
        let BertModelOutput { last_hidden, cls_hidden, first } = self.bert.forward(input);
        let first = if self.dropout_first { B::fast_dropout(first, self.dropout.prob) } else { first };
        let pooled = self.bert.pooler.forward(first, self.head);
        let logits = linear(&self.classifier, B::fast_dropout(pooled, self.dropout.prob)).cast(DType::F32);
        BertOutput { logits, last_hidden, cls_hidden }
    }
}

impl Precision {
    /// The tensor number format the encoder computes in.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::Bf16 => DType::BF16,
        }
    }
}

/// The tensors of a tokenized batch (the mask only when the batch has padding).
impl crate::tokenize::TokenBatch {
    pub fn to_input<B: Backend>(&self, device: &B::Device) -> BertInput<B> {
        let t =
            |v: &Vec<i64>| Tensor::<B, 2, Int>::from_data(TensorData::new(v.clone(), [self.batch, self.seq]), device);
        let padded = self.mask.contains(&0);
        BertInput {
            input_ids: t(&self.ids),
            token_type_ids: t(&self.type_ids),
            attention_mask: padded.then(|| t(&self.mask)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    type B = burn_flex::Flex<f32>;

    fn first_weights(m: &BertClassifier<B>) -> Vec<f32> {
        m.layer(1).intermediate.dense.weight.val().into_data().to_vec().unwrap()
    }

    fn batch(seq: usize) -> crate::tokenize::TokenBatch {
        let ids: Vec<i64> = (0..2 * seq as i64).map(|i| 5 + (i * 7) % 23).collect();
        let mut mask = vec![1i64; 2 * seq];
        mask[2 * seq - 2..].fill(0); // padding in the second sequence
        crate::tokenize::TokenBatch { batch: 2, seq, ids, type_ids: vec![0; 2 * seq], mask }
    }

    /// bf16 keeps 8 bits of mantissa (a relative step of 2^-8 = 0.4%): through two layers of
    /// products and residuals the logits stay within 3% of the f32 ones, relative to their size
    /// (measured: 0.8%), and differ (the products did run in bf16).
    #[test]
    fn bf16_gives_f32_outputs_close_to_the_f32_ones() {
        let c = BertConfig::synthetic(30, 32, 2, 2, 64, 3);
        let model = BertClassifier::<B>::new(&c, 1, &Default::default());
        let f32_out = model.forward(batch(6).to_input(&Default::default()));
        let bf16 = model.clone().with_precision(Precision::Bf16);
        assert_eq!(bf16.precision(), Precision::Bf16);
        let out = bf16.forward(batch(6).to_input(&Default::default()));
        for t in [&out.logits, &out.cls_hidden] {
            assert_eq!(t.dtype(), DType::F32, "outputs are f32 for the loss");
        }
        assert_eq!(out.last_hidden.dtype(), DType::F32);
        let diff = (out.logits.clone() - f32_out.logits.clone()).abs().max().into_scalar();
        let scale = f32_out.logits.clone().abs().max().into_scalar();
        assert!(diff < 0.03 * scale && diff > 0.0, "bf16 logits differ from f32 by {diff} (scale {scale})");
        let diff = (out.last_hidden - f32_out.last_hidden).abs().max().into_scalar();
        assert!(diff < 0.1 && diff > 0.0, "hidden states differ by {diff}");
    }

    /// Under autodiff the products run in bf16, but every parameter's gradient is f32, for the
    /// f32 optimizer, and within 5% of the f32 gradient relative to its largest entry (measured:
    /// 1.2% for a layer's weight, 0.6% for the embeddings).
    #[test]
    fn bf16_gradients_reach_the_f32_parameters_as_f32() {
        use burn::backend::Autodiff;
        type A = Autodiff<B>;
        // No dropout: its masks come from another generator in bf16 (burn's) than in f32 (ours).
        let mut c = BertConfig::synthetic(30, 32, 2, 2, 64, 3);
        (c.hidden_dropout_prob, c.attention_probs_dropout_prob, c.classifier_dropout) = (0.0, 0.0, 0.0);
        let grads_of = |precision| {
            let model = BertClassifier::<A>::new(&c, 1, &Default::default()).with_precision(precision);
            let loss = model.forward(batch(6).to_input(&Default::default())).logits.powi_scalar(2).sum();
            let mut grads = loss.backward();
            let w = model.layer(0).intermediate.dense.weight.val();
            let g = w.grad_remove(&mut grads).expect("a gradient for the weight");
            let e = model.bert.embeddings.word_embeddings.weight.val().grad_remove(&mut grads).expect("embeddings");
            (g, e)
        };
        let (g32, e32) = grads_of(Precision::F32);
        let (g16, e16) = grads_of(Precision::Bf16);
        assert_eq!(g16.dtype(), DType::F32);
        assert_eq!(e16.dtype(), DType::F32);
        let rel = |a: Tensor<B, 2>, b: Tensor<B, 2>| {
            (a.clone() - b).abs().max().into_scalar() / a.abs().max().into_scalar().max(1e-12)
        };
        assert!(rel(g32, g16) < 0.05, "weight gradients");
        assert!(rel(e32, e16) < 0.05, "embedding gradients");
    }

    #[test]
    fn initialization_depends_on_the_seed_alone() {
        let c = BertConfig::synthetic(30, 16, 2, 2, 32, 2);
        let a = BertClassifier::<B>::new(&c, 1, &Default::default());
        let b = BertClassifier::<B>::new(&c, 1, &Default::default());
        let other = BertClassifier::<B>::new(&c, 2, &Default::default());
        assert_eq!(first_weights(&a), first_weights(&b));
        assert_ne!(first_weights(&a), first_weights(&other));
        // transformers' scheme: N(0, 0.02) weights, zero biases.
        let w = first_weights(&a);
        let std = (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt();
        assert!((std - 0.02).abs() < 0.003, "{std}");
        let bias: Vec<f32> = a.classifier.bias.as_ref().unwrap().val().into_data().to_vec().unwrap();
        assert!(bias.iter().all(|b| *b == 0.0));
    }
}
