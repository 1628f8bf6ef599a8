//! `predict`: classify a text, a pair, or every line of a JSON Lines file with a model folder
//! or Hub id, and print the label and probabilities.

use super::PredictArgs;
use crate::backend::run_on;
use crate::error::{Error, Result};
use crate::hub::HubSettings;
use crate::predict::{Input, PredictRequest};

pub fn run(a: PredictArgs) -> Result<i32> {
    let input = match (a.input, a.text) {
        (Some(path), _) => Input::JsonLines(path),
        (None, Some(text)) => Input::Text { text, pair: a.text_pair },
        (None, None) => return Err(Error::Input("give a TEXT or --input FILE.jsonl".into())),
    };
    let request = PredictRequest {
        model: a.model,
        revision: a.revision,
        max_length: a.max_length,
        json: a.json,
        input,
        hub: HubSettings::from_env(),
    };
    run_on(a.backend.backend, request)??;
    Ok(0)
}
