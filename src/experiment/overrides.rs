//! `--set KEY=VALUE`: dotted keys into the TOML table, values parsed as TOML (a bare word that
//! is not valid TOML, like a path, is taken as a string).

/// Applies each override in order. The error is (key, message).
pub fn apply_overrides(table: &mut toml::Table, overrides: &[String]) -> Result<(), (String, String)> {
    for o in overrides {
        let Some((key, raw)) = o.split_once('=') else {
            return Err((o.clone(), "must look like KEY=VALUE, e.g. --set training.epochs=1".into()));
        };
        let key = key.trim();
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err((key.into(), "is not a dotted key like data.train".into()));
        }
        let value = parse_value(raw.trim());
        let mut node = &mut *table;
        for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
            let entry = node.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            node = match entry {
                toml::Value::Table(t) => t,
                _ => return Err((key.into(), format!("{} is a value, not a section", parts[..=i].join(".")))),
            };
        }
        node.insert(parts[parts.len() - 1].to_string(), value);
    }
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_typed_values_and_bare_paths() {
        let mut t: toml::Table = toml::from_str("[training]\nepochs = 5\n[data]\ntask = \"mnli\"").unwrap();
        apply_overrides(
            &mut t,
            &[
                "training.epochs=1".into(),
                "training.learning_rate=2e-5".into(),
                "data.train=../shared/data/glue-sst2/train.tsv".into(),
                "experiment.seeds=[1, 2]".into(),
                "training.loss_weights.ce=0.5".into(),
            ],
        )
        .unwrap();
        assert_eq!(t["training"]["epochs"].as_integer(), Some(1));
        assert_eq!(t["training"]["learning_rate"].as_float(), Some(2e-5));
        assert_eq!(t["data"]["train"].as_str(), Some("../shared/data/glue-sst2/train.tsv"));
        assert_eq!(t["experiment"]["seeds"].as_array().unwrap().len(), 2);
        assert_eq!(t["training"]["loss_weights"]["ce"].as_float(), Some(0.5));
    }

    #[test]
    fn malformed_overrides_are_errors() {
        let mut t = toml::Table::new();
        assert!(apply_overrides(&mut t, &["training.epochs".into()]).unwrap_err().1.contains("KEY=VALUE"));
        assert!(apply_overrides(&mut t, &["a..b=1".into()]).is_err());
        apply_overrides(&mut t, &["x=1".into()]).unwrap();
        assert!(apply_overrides(&mut t, &["x.y=1".into()]).unwrap_err().1.contains("not a section"));
    }
}
