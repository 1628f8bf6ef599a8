//! BertForSequenceClassification in burn, laid out like transformers' module tree so that the
//! parameter paths are the Hugging Face key names (up to `self` -> `self_attn` and
//! `LayerNorm` -> `layer_norm`, which Rust field names cannot spell).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, gelu_approximate, relu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::config::{Activation, BertConfig};

/// One batch of encoded text; all tensors are `[batch, seq]`.
#[derive(Debug, Clone)]
pub struct BertInput<B: Backend> {
    pub input_ids: Tensor<B, 2, Int>,
    pub token_type_ids: Tensor<B, 2, Int>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor<B, 2, Int>,
}

/// What a forward pass gives: logits `[batch, labels]`, the last hidden states
/// `[batch, seq, hidden]` and the [CLS] hidden state `[batch, hidden]`.
#[derive(Debug, Clone)]
pub struct BertOutput<B: Backend> {
    pub logits: Tensor<B, 2>,
    pub last_hidden: Tensor<B, 3>,
    pub cls_hidden: Tensor<B, 2>,
}

#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Embedding<B>,
    pub token_type_embeddings: Embedding<B>,
    pub layer_norm: LayerNorm<B>,
    dropout: Dropout,
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
    pub encoder: BertEncoder<B>,
    pub pooler: BertPooler<B>,
}

/// BertForSequenceClassification.
#[derive(Module, Debug)]
pub struct BertClassifier<B: Backend> {
    pub bert: BertModel<B>,
    dropout: Dropout,
    pub classifier: Linear<B>,
}

/// The default mapping reads every parameter, which materializes it.
struct Materialize;

impl<B: Backend> burn::module::ModuleMapper<B> for Materialize {}

fn linear<B: Backend>(d_in: usize, d_out: usize, device: &B::Device) -> Linear<B> {
    LinearConfig::new(d_in, d_out).init(device)
}

fn layer_norm<B: Backend>(c: &BertConfig, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(c.hidden_size).with_epsilon(c.layer_norm_eps).init(device)
}

impl<B: Backend> BertLayer<B> {
    pub fn new(c: &BertConfig, device: &B::Device) -> Self {
        let h = c.hidden_size;
        let residual = |d_in| BertResidual {
            dense: linear(d_in, h, device),
            layer_norm: layer_norm(c, device),
            dropout: DropoutConfig::new(c.hidden_dropout_prob).init(),
        };
        Self {
            attention: BertAttention {
                self_attn: BertSelfAttention {
                    query: linear(h, h, device),
                    key: linear(h, h, device),
                    value: linear(h, h, device),
                    dropout: DropoutConfig::new(c.attention_probs_dropout_prob).init(),
                    num_heads: c.num_attention_heads,
                },
                output: residual(h),
            },
            intermediate: BertIntermediate { dense: linear(h, c.intermediate_size, device), act: c.hidden_act },
            output: residual(c.intermediate_size),
        }
    }

    /// `x`: `[batch, seq, hidden]`; `mask_bias`: `[batch, 1, 1, seq]`, 0 for tokens and a large
    /// negative number for padding.
    pub fn forward(&self, x: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let attn = self.attention.self_attn.forward(x.clone(), mask_bias);
        let attn = self.attention.output.forward(attn, x);
        let inner = self.intermediate.forward(attn.clone());
        self.output.forward(inner, attn)
    }
}

impl<B: Backend> BertSelfAttention<B> {
    fn forward(&self, x: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, seq, hidden] = x.dims();
        let head_dim = hidden / self.num_heads;
        let heads = |t: Tensor<B, 3>| t.reshape([batch, seq, self.num_heads, head_dim]).swap_dims(1, 2);
        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x));
        let scores = q.matmul(k.swap_dims(2, 3)) / (head_dim as f64).sqrt() + mask_bias;
        let probs = self.dropout.forward(softmax(scores, 3));
        probs.matmul(v).swap_dims(1, 2).reshape([batch, seq, hidden])
    }
}

impl<B: Backend> BertResidual<B> {
    fn forward(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = self.dropout.forward(self.dense.forward(x));
        self.layer_norm.forward(x + residual)
    }
}

impl<B: Backend> BertIntermediate<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = self.dense.forward(x);
        match self.act {
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
        }
    }
}

impl<B: Backend> BertEmbeddings<B> {
    fn forward(&self, input_ids: Tensor<B, 2, Int>, token_type_ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &device).reshape([1, seq]).repeat_dim(0, batch);
        let x = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(token_type_ids);
        self.dropout.forward(self.layer_norm.forward(x))
    }
}

impl<B: Backend> BertClassifier<B> {
    /// A freshly initialized model of the config's shape (burn's default initializers; call
    /// `B::seed` first for a reproducible one).
    pub fn new(c: &BertConfig, device: &B::Device) -> Self {
        let h = c.hidden_size;
        let embeddings = BertEmbeddings {
            word_embeddings: EmbeddingConfig::new(c.vocab_size, h).init(device),
            position_embeddings: EmbeddingConfig::new(c.max_position_embeddings, h).init(device),
            token_type_embeddings: EmbeddingConfig::new(c.type_vocab_size, h).init(device),
            layer_norm: layer_norm(c, device),
            dropout: DropoutConfig::new(c.hidden_dropout_prob).init(),
        };
        let layer = (0..c.num_hidden_layers).map(|_| BertLayer::new(c, device)).collect();
        let model = Self {
            bert: BertModel {
                embeddings,
                encoder: BertEncoder { layer },
                pooler: BertPooler { dense: linear(h, h, device) },
            },
            dropout: DropoutConfig::new(c.classifier_dropout).init(),
            classifier: linear(h, c.num_labels(), device),
        };
        // burn initializes parameters lazily, on first use; a clone of a lazy parameter would
        // draw its own values. Materialize now so that clones are copies and the seed decides.
        model.map(&mut Materialize)
    }

    pub fn num_layers(&self) -> usize {
        self.bert.encoder.layer.len()
    }

    /// Encoder layer `i` (0-based).
    pub fn layer(&self, i: usize) -> &BertLayer<B> {
        &self.bert.encoder.layer[i]
    }

    /// The same model with other encoder layers (embeddings, pooler and classifier kept).
    pub fn with_layers(self, layer: Vec<BertLayer<B>>) -> Self {
        Self { bert: BertModel { encoder: BertEncoder { layer }, ..self.bert }, ..self }
    }

    pub fn forward(&self, input: BertInput<B>) -> BertOutput<B> {
        let [batch, seq] = input.input_ids.dims();
        // transformers' extended attention mask: (1 - mask) * finfo(float32).min, added to scores.
        let mask_bias = (input.attention_mask.float().neg() + 1.0).reshape([batch, 1, 1, seq]) * f32::MIN as f64;
        let mut x = self.bert.embeddings.forward(input.input_ids, input.token_type_ids);
        for layer in &self.bert.encoder.layer {
            x = layer.forward(x, mask_bias.clone());
        }
        let hidden = x.dims()[2];
        let cls_hidden = x.clone().slice([0..batch, 0..1, 0..hidden]).reshape([batch, hidden]);
        let pooled = self.bert.pooler.dense.forward(cls_hidden.clone()).tanh();
        let logits = self.classifier.forward(self.dropout.forward(pooled));
        BertOutput { logits, last_hidden: x, cls_hidden }
    }
}
