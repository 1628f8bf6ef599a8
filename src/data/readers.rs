//! Readers for the data files users have: GLUE TSV (with header), CSV, JSON Lines, parquet.
//! Each returns the wanted columns of every row as text, with the line (or row) it came from.

use std::io::BufRead;
use std::path::Path;

use crate::error::{Error, Result};

/// One row: the wanted columns in order (`None` where the cell is null), and where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line in the file (TSV/CSV/JSONL, header = line 1) or 1-based row (parquet).
    pub line: usize,
    pub cells: Vec<Option<String>>,
}

/// For each logical column, the names it may have; the first present in the file wins.
pub type ColumnChoices = Vec<Vec<String>>;

fn bad(path: &Path, line: usize, msg: impl std::fmt::Display) -> Error {
    Error::Input(format!("{}:{line}: {msg}", path.display()))
}

fn pick_columns(path: &Path, header: &[String], wanted: &ColumnChoices) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|names| {
            names.iter().find_map(|n| header.iter().position(|h| h == n)).ok_or_else(|| {
                Error::Input(format!(
                    "{}: no column named {} (the file has {}); set data.text_columns / data.label_column",
                    path.display(),
                    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" or "),
                    header.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
                ))
            })
        })
        .collect()
}

/// Reads `path` by its extension.
pub fn read_rows(path: &Path, wanted: &ColumnChoices) -> Result<Vec<Row>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let rows = match ext.as_str() {
        "tsv" => read_delimited(path, b'\t', wanted),
        "csv" => read_delimited(path, b',', wanted),
        "jsonl" => read_jsonl(path, wanted),
        "parquet" => read_parquet(path, wanted),
        other => Err(Error::Input(format!(
            "{}: unknown data format \"{other}\"; use .tsv, .csv, .jsonl or .parquet",
            path.display()
        ))),
    }?;
    if rows.is_empty() {
        return Err(Error::Input(format!("{}: holds no examples", path.display())));
    }
    Ok(rows)
}

/// TSV (GLUE's files: tab-separated, no quoting, header line) or CSV (RFC 4180 quoting).
pub fn read_delimited(path: &Path, delimiter: u8, wanted: &ColumnChoices) -> Result<Vec<Row>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_delimited_from(path, std::io::BufReader::new(file), delimiter, wanted)
}

pub fn read_delimited_from(
    path: &Path,
    reader: impl std::io::Read,
    delimiter: u8,
    wanted: &ColumnChoices,
) -> Result<Vec<Row>> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quoting(delimiter != b'\t')
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(path, 1, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(Error::Input(format!("{}: is empty; it needs a header line and examples", path.display())));
    }
    let cols = pick_columns(path, &header, wanted)?;
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            bad(path, line, format!("cannot read: {e}"))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells = cols.iter().map(|&c| rec.get(c).map(|s| s.to_string())).collect::<Vec<_>>();
        if cells.iter().any(Option::is_none) {
            return Err(bad(path, line, format!("has {} fields but the header has {}", rec.len(), header.len())));
        }
        rows.push(Row { line, cells });
    }
    Ok(rows)
}

/// JSON Lines: one object per line; string or number cells.
pub fn read_jsonl(path: &Path, wanted: &ColumnChoices) -> Result<Vec<Row>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_jsonl_from(path, std::io::BufReader::new(file), wanted)
}

pub fn read_jsonl_from(path: &Path, reader: impl BufRead, wanted: &ColumnChoices) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut cols: Option<Vec<String>> = None;
    // Bounded lines, a UTF-8 byte-order mark dropped (as for TSV, CSV and TOML).
    for (i, line) in crate::input_file::lines(reader, crate::input_file::JSONL_LINE).enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| bad(path, line_no, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&line).map_err(|e| bad(path, line_no, format!("not a JSON object: {e}")))?;
        let names = match &cols {
            Some(c) => c.clone(),
            None => {
                let header: Vec<String> = obj.keys().cloned().collect();
                let idx = pick_columns(path, &header, wanted)?;
                let names: Vec<String> = idx.iter().map(|&i| header[i].clone()).collect();
                cols = Some(names.clone());
                names
            }
        };
        let mut cells = Vec::with_capacity(names.len());
        for n in &names {
            cells.push(match obj.get(n) {
                None => return Err(bad(path, line_no, format!("has no \"{n}\" key"))),
                Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Number(x)) => Some(x.to_string()),
                Some(serde_json::Value::Bool(b)) => Some((*b as u8).to_string()),
                Some(v) => return Err(bad(path, line_no, format!("\"{n}\" is {v}; it must be a string or a number"))),
            });
        }
        rows.push(Row { line: line_no, cells });
    }
    Ok(rows)
}

/// Parquet (the Hub's GLUE files): string and integer columns.
pub fn read_parquet(path: &Path, wanted: &ColumnChoices) -> Result<Vec<Row>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| {
        Error::Input(format!(
            "{}: not a readable parquet file ({e}); it may be truncated: download it again",
            path.display()
        ))
    })?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let header: Vec<String> = schema.root_schema().get_fields().iter().map(|f| f.name().to_string()).collect();
    let cols = pick_columns(path, &header, wanted)?;
    let names: Vec<String> = cols.iter().map(|&c| header[c].clone()).collect();
    let iter = reader.get_row_iter(None).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let mut rows = Vec::new();
    for (i, row) in iter.enumerate() {
        let row = row.map_err(|e| bad(path, i + 1, e))?;
        let mut cells = vec![None; names.len()];
        for (name, field) in row.get_column_iter() {
            if let Some(k) = names.iter().position(|n| n == name) {
                cells[k] = match field {
                    Field::Null => None,
                    Field::Str(s) => Some(s.clone()),
                    Field::Byte(v) => Some(v.to_string()),
                    Field::Short(v) => Some(v.to_string()),
                    Field::Int(v) => Some(v.to_string()),
                    Field::Long(v) => Some(v.to_string()),
                    Field::UByte(v) => Some(v.to_string()),
                    Field::UShort(v) => Some(v.to_string()),
                    Field::UInt(v) => Some(v.to_string()),
                    Field::ULong(v) => Some(v.to_string()),
                    Field::Bool(b) => Some((*b as u8).to_string()),
                    other => {
                        return Err(bad(
                            path,
                            i + 1,
                            format!("column \"{name}\" holds {other}, not text or an integer"),
                        ));
                    }
                };
            }
        }
        rows.push(Row { line: i + 1, cells });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(c: &[&[&str]]) -> ColumnChoices {
        c.iter().map(|names| names.iter().map(|n| n.to_string()).collect()).collect()
    }

    #[test]
    fn glue_tsv_keeps_quotes_and_finds_alias_columns() {
        let tsv = "index\tsentence1\tsentence2\tgold_label\n0\tHe said \"hi\tthere\tneutral\n1\ta\tb\tentailment\n";
        let rows = read_delimited_from(
            Path::new("dev.tsv"),
            tsv.as_bytes(),
            b'\t',
            &choices(&[&["premise", "sentence1"], &["hypothesis", "sentence2"], &["label", "gold_label"]]),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].cells, vec![Some("He said \"hi".into()), Some("there".into()), Some("neutral".into())]);
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn missing_columns_name_what_the_file_has() {
        let err = read_delimited_from(
            Path::new("x.tsv"),
            "text\ty\na\t1\n".as_bytes(),
            b'\t',
            &choices(&[&["sentence"], &["label"]]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no column named \"sentence\"") && text.contains("\"text\", \"y\""), "{text}");
    }

    #[test]
    fn short_rows_name_their_line() {
        let err = read_delimited_from(
            Path::new("x.tsv"),
            "sentence\tlabel\na\t1\nb\n".as_bytes(),
            b'\t',
            &choices(&[&["sentence"], &["label"]]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("x.tsv:3:"), "{err}");
    }

    #[test]
    fn csv_unquotes() {
        let rows = read_delimited_from(
            Path::new("x.csv"),
            "sentence,label\n\"a, b\",1\n".as_bytes(),
            b',',
            &choices(&[&["sentence"], &["label"]]),
        )
        .unwrap();
        assert_eq!(rows[0].cells, vec![Some("a, b".into()), Some("1".into())]);
    }

    #[test]
    fn jsonl_reads_numbers_and_names_bad_lines() {
        let rows = read_jsonl_from(
            Path::new("x.jsonl"),
            "{\"sentence\": \"a\", \"label\": 1}\n\n{\"sentence\": \"b\", \"label\": \"positive\"}\n".as_bytes(),
            &choices(&[&["sentence"], &["label"]]),
        )
        .unwrap();
        assert_eq!(rows[1].cells, vec![Some("b".into()), Some("positive".into())]);
        assert_eq!(rows[1].line, 3);
        // A byte-order mark, as some editors write it, is not part of the first object.
        let bom = read_jsonl_from(
            Path::new("x.jsonl"),
            "\u{feff}{\"sentence\": \"a\", \"label\": 1}\n".as_bytes(),
            &choices(&[&["sentence"], &["label"]]),
        )
        .unwrap();
        assert_eq!(bom[0].cells, vec![Some("a".into()), Some("1".into())]);
        let err = read_jsonl_from(
            Path::new("x.jsonl"),
            "{\"sentence\": \"a\", \"label\": 1}\n{oops\n".as_bytes(),
            &choices(&[&["sentence"], &["label"]]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("x.jsonl:2: not a JSON object"), "{err}");
    }
}

#[cfg(test)]
pub(crate) mod parquet_tests {
    use super::*;
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    /// A parquet file laid out like the Hub's GLUE files (snappy, string columns, int64 label).
    pub(crate) fn write_glue_parquet(path: &Path, columns: (&str, &str), rows: &[(&str, &str, i64)]) {
        let (a, b) = columns;
        let schema = Arc::new(
            parse_message_type(&format!("message schema {{ required binary {a} (UTF8); required binary {b} (UTF8); required int64 label; required int64 idx; }}"))
                .unwrap(),
        );
        let props = Arc::new(WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY).build());
        let file = std::fs::File::create(path).unwrap();
        let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let premises: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.0)).collect();
        let hypotheses: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.1)).collect();
        for col in [premises, hypotheses] {
            let mut w = group.next_column().unwrap().unwrap();
            w.typed::<ByteArrayType>().write_batch(&col, None, None).unwrap();
            w.close().unwrap();
        }
        for col in [rows.iter().map(|r| r.2).collect::<Vec<_>>(), (0..rows.len() as i64).collect()] {
            let mut w = group.next_column().unwrap().unwrap();
            w.typed::<Int64Type>().write_batch(&col, None, None).unwrap();
            w.close().unwrap();
        }
        group.close().unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn reads_hub_style_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validation_matched-00000-of-00001.parquet");
        write_glue_parquet(
            &path,
            ("premise", "hypothesis"),
            &[("A man plays.", "Someone plays.", 0), ("It rains.", "It is dry.", 2)],
        );
        let wanted: ColumnChoices = vec![vec!["premise".into()], vec!["hypothesis".into()], vec!["label".into()]];
        let rows = read_rows(&path, &wanted).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].cells, vec![Some("It rains.".into()), Some("It is dry.".into()), Some("2".into())]);
        assert_eq!(rows[1].line, 2);
        // Missing column and a truncated file are errors, not panics.
        let err = read_rows(&path, &vec![vec!["sentence".into()]]).unwrap_err().to_string();
        assert!(err.contains("no column named \"sentence\"") && err.contains("\"premise\""), "{err}");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(read_rows(&path, &wanted).unwrap_err().to_string().contains("not a readable parquet file"));
    }
}
