//! The models of `try`, on the chosen backend, in their own thread: loaded one by one (the
//! screen shows each row as it comes), then asked to classify each input in turn.

use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use crate::backend::BackendTask;
use crate::events::BackendInfo;
use crate::hub::HubSettings;
use crate::model::LoadedModel;
use crate::ops::TrainBackend;
use crate::predict::predict_batch;
use crate::tokenize::Padding;

/// What the screen asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Classify { id: u64, text: String, pair: Option<String> },
}

/// What one model answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub label_id: usize,
    pub probs: Vec<f32>,
    pub millis: f64,
    /// The input was longer than the model takes and was cut, as `predict` cuts it.
    pub truncated: bool,
}

/// What the worker tells the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Loading { model: usize },
    Loaded { model: usize, labels: Vec<String>, max_length: usize },
    Failed { model: usize, error: String },
    Answer { id: u64, model: usize, answer: Result<Answer, String> },
}

/// The worker: the models to load (folders or Hub ids) and the channels.
pub struct Worker {
    pub models: Vec<String>,
    pub hub: HubSettings,
    pub requests: Receiver<Request>,
    pub replies: Sender<Reply>,
}

impl BackendTask for Worker {
    type Output = ();

    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) {
        let mut loaded: Vec<Option<(LoadedModel<B::InnerBackend>, Padding)>> = Vec::new();
        for (i, spec) in self.models.iter().enumerate() {
            if self.replies.send(Reply::Loading { model: i }).is_err() {
                return;
            }
            match LoadedModel::<B::InnerBackend>::load(spec, "main", &self.hub, None, 0, &device) {
                Ok(m) => {
                    let padding = info.padding(&m.config, m.tokenizer.max_length);
                    let (labels, max_length) = (m.config.labels.clone(), m.tokenizer.max_length);
                    let _ = self.replies.send(Reply::Loaded { model: i, labels, max_length });
                    loaded.push(Some((m, padding)));
                }
                Err(e) => {
                    let _ = self.replies.send(Reply::Failed { model: i, error: e.to_string() });
                    loaded.push(None);
                }
            }
        }
        for request in self.requests.iter() {
            let Request::Classify { id, text, pair } = request;
            for (i, m) in loaded.iter().enumerate() {
                let Some((m, padding)) = m else { continue };
                let started = Instant::now();
                let answer = m
                    .tokenizer
                    .encode_truncated(&text, pair.as_deref())
                    .and_then(|(_, truncated)| {
                        let item = [(text.clone(), pair.clone())];
                        let p = predict_batch(&m.model, &m.tokenizer, &m.config.labels, &item, 1, *padding, &device)?;
                        Ok((p, truncated))
                    })
                    .map(|(p, truncated)| Answer {
                        label_id: p[0].label_id,
                        probs: p[0].probs.clone(),
                        millis: started.elapsed().as_secs_f64() * 1000.0,
                        truncated,
                    })
                    .map_err(|e| e.to_string());
                if self.replies.send(Reply::Answer { id, model: i, answer }).is_err() {
                    return;
                }
            }
        }
    }
}
