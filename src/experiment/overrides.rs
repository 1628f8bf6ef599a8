//! `--set KEY=VALUE`: dotted keys into the TOML table, values parsed as TOML (a bare word that
//! is not valid TOML, like a path, is taken as a string). A relative path given on the command
//! line is relative to the working directory, as for any command (paths in the file stay
//! relative to the file).

use std::path::Path;

/// The keys whose values are paths (`teacher.model` only when that path exists: otherwise it
/// is a Hub id; `data.*` unless `"hub"`).
const PATH_KEYS: [&str; 4] = ["teacher.model", "data.train", "data.validation", "experiment.output_dir"];

/// Parts of the longest key accepted (with room for future sections).
const MAX_KEY_PARTS: usize = 8;

/// Applies each override in order, relative paths taken from `cwd`. The error is (key, message).
pub fn apply_overrides(table: &mut toml::Table, overrides: &[String], cwd: &Path) -> Result<(), (String, String)> {
    for o in overrides {
        let Some((key, raw)) = o.split_once('=') else {
            return Err((o.clone(), "must look like KEY=VALUE, e.g. --set training.epochs=1".into()));
        };
        let key = key.trim();
        let parts: Vec<&str> = key.split('.').collect();
        // The deepest key is three parts (training.loss_weights.ce); a deep one would only build
        // nested tables for the checks to refuse, and very deep ones overflow the stack there.
        if parts.len() > MAX_KEY_PARTS {
            let shown: String = key.chars().take(40).collect();
            return Err((
                format!("{shown}…"),
                format!("has {} parts; a key has at most {MAX_KEY_PARTS}, like training.loss_weights.ce", parts.len()),
            ));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err((key.into(), "is not a dotted key like data.train".into()));
        }
        let value = anchor_path(key, parse_value(raw.trim()), cwd);
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

/// `value` made absolute against `cwd` when `key` takes a path and `value` is a relative one.
fn anchor_path(key: &str, value: toml::Value, cwd: &Path) -> toml::Value {
    let toml::Value::String(s) = &value else { return value };
    let p = Path::new(s);
    let is_path = PATH_KEYS.contains(&key)
        && !s.is_empty()
        && p.is_relative()
        && !(key.starts_with("data.") && s == "hub")
        && (key != "teacher.model" || cwd.join(p).exists());
    if is_path { toml::Value::String(cwd.join(p).to_string_lossy().into_owned()) } else { value }
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
        let cwd = Path::new("/work/here");
        apply_overrides(
            &mut t,
            &[
                "training.epochs=1".into(),
                "training.learning_rate=2e-5".into(),
                "data.train=../data/glue-sst2/train.tsv".into(),
                "data.validation=hub".into(),
                "experiment.output_dir=/abs/out".into(),
                "experiment.seeds=[1, 2]".into(),
                "training.loss_weights.ce=0.5".into(),
                "teacher.model=bert-base-uncased".into(),
            ],
            cwd,
        )
        .unwrap();
        assert_eq!(t["training"]["epochs"].as_integer(), Some(1));
        assert_eq!(t["training"]["learning_rate"].as_float(), Some(2e-5));
        // Relative to the working directory, not to the file; "hub", absolute paths and Hub ids
        // (no such folder here) are kept.
        assert_eq!(t["data"]["train"].as_str(), Some("/work/here/../data/glue-sst2/train.tsv"));
        assert_eq!(t["data"]["validation"].as_str(), Some("hub"));
        assert_eq!(t["experiment"]["output_dir"].as_str(), Some("/abs/out"));
        assert_eq!(t["teacher"]["model"].as_str(), Some("bert-base-uncased"));
        assert_eq!(t["experiment"]["seeds"].as_array().unwrap().len(), 2);
        assert_eq!(t["training"]["loss_weights"]["ce"].as_float(), Some(0.5));
    }

    #[test]
    fn malformed_overrides_are_errors() {
        let mut t = toml::Table::new();
        let cwd = Path::new(".");
        assert!(apply_overrides(&mut t, &["training.epochs".into()], cwd).unwrap_err().1.contains("KEY=VALUE"));
        assert!(apply_overrides(&mut t, &["a..b=1".into()], cwd).is_err());
        apply_overrides(&mut t, &["x=1".into()], cwd).unwrap();
        assert!(apply_overrides(&mut t, &["x.y=1".into()], cwd).unwrap_err().1.contains("not a section"));
    }

    #[test]
    fn a_very_deep_key_is_refused_before_any_table_is_built() {
        let mut t = toml::Table::new();
        let key = vec!["a"; 20_000].join(".") + "=1";
        let (shown, message) = apply_overrides(&mut t, &[key], Path::new("/")).unwrap_err();
        assert_eq!(shown, format!("{}…", "a.".repeat(20)));
        assert_eq!(message, "has 20000 parts; a key has at most 8, like training.loss_weights.ce");
        assert!(t.is_empty());
    }
}
