//! Reading a file the user names: only a regular file (or, where a stream makes sense, a pipe),
//! and never more than a size that fits its kind. So `/dev/zero`, a directory or a wrong
//! multi-gigabyte file is a clear error with exit code 2 (see [`crate::error::Error::exit_code`]),
//! not an allocation that ends the process.

use std::io::{BufRead, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// `experiments.toml`: a few kilobytes in practice.
pub const EXPERIMENT_FILE: u64 = 1 << 20;
/// A model's `config.json` (an `id2label` of 100,000 labels is about 3 MB).
pub const MODEL_CONFIG: u64 = 16 << 20;
/// `vocab.txt` or `tokenizer.json` (bert-base's vocab.txt is 232 kB, its tokenizer.json 466 kB; the
/// largest vocabularies a few MB).
pub const TOKENIZER_FILE: u64 = 64 << 20;
/// `results.json` (per run, a character per validation example: MNLI's 9,815 per run).
pub const RESULTS: u64 = 256 << 20;
/// Small files distill-tui writes itself into an experiment folder (state, fingerprints, lock).
pub const SMALL: u64 = 4 << 20;
/// One line of a JSON Lines input.
pub const JSONL_LINE: usize = 1 << 20;

/// Opens `path` and checks what it opened: a regular file, or also a pipe with `allow_pipe`.
/// The check is made on the open file (one step: nothing can be swapped in between), and the open
/// itself never blocks (a FIFO with no writer would hang a plain open).
pub fn open(path: &Path, allow_pipe: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::os::unix::io::AsRawFd;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let kind = file.metadata()?.file_type();
    let pipe = kind.is_fifo();
    if kind.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a folder, not a file"));
    }
    if !(kind.is_file() || (allow_pipe && pipe)) {
        let what = if pipe { "a pipe" } else { "a device or socket" };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("is {what}, not a regular file; give a file"),
        ));
    }
    if pipe {
        // A pipe the user names is read as a pipe: opened again, waiting for its writer.
        return std::fs::File::open(path);
    }
    // Reads block again, as they do on a file opened plainly.
    // SAFETY: F_GETFL/F_SETFL on a descriptor this function owns.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// The last `limit` bytes (at most) of the regular file `path`, as text (invalid UTF-8 replaced):
/// for a log another process writes, of any size.
pub fn read_tail(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Seek;
    let mut file = open(path, false)?;
    let len = file.metadata()?.len();
    file.seek(std::io::SeekFrom::Start(len.saturating_sub(limit)))?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Checks that `path` is a regular file of at most `limit` bytes, for a reader that opens it
/// itself.
pub fn check(path: &Path, limit: u64) -> std::io::Result<()> {
    let size = open(path, false)?.metadata()?.len();
    if size > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

fn too_large(limit: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!("is larger than {} MiB, too large for this kind of file", limit >> 20),
    )
}

/// The text of the regular file `path`, refused when larger than `limit` bytes or not UTF-8.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    let file = open(path, false)?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(text)
}

/// [`read_text`] as this crate's error, naming `path`.
pub fn read(path: &Path, limit: u64) -> Result<String> {
    read_text(path, limit).map_err(|e| Error::io(path, e))
}

/// The lines of `reader`, each at most `limit` bytes (a longer one is an error naming its line
/// number), without their line ends. A UTF-8 byte-order mark before the first line is dropped.
pub fn lines(reader: impl Read, limit: usize) -> impl Iterator<Item = std::result::Result<String, String>> {
    let mut reader = std::io::BufReader::new(reader);
    let mut number = 0usize;
    std::iter::from_fn(move || {
        number += 1;
        let mut line = Vec::new();
        match (&mut reader).take(limit as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) if line.len() > limit && !line.ends_with(b"\n") => {
                Some(Err(format!("line {number} is longer than {limit} bytes")))
            }
            Ok(_) => {
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                if number == 1 && line.starts_with(b"\xEF\xBB\xBF") {
                    line.drain(..3);
                }
                Some(String::from_utf8(line).map_err(|_| format!("line {number} is not UTF-8 text")))
            }
            Err(e) => Some(Err(format!("line {number}: {e}"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "x = 1\n").unwrap();
        assert_eq!(read_text(&file, 6).unwrap(), "x = 1\n");
        let big = read_text(&file, 5).unwrap_err();
        assert_eq!(big.kind(), std::io::ErrorKind::FileTooLarge);
        let folder = read_text(dir.path(), 100).unwrap_err();
        assert_eq!(folder.kind(), std::io::ErrorKind::IsADirectory);
        assert!(folder.to_string().contains("is a folder"));
        #[cfg(unix)]
        {
            let zero = read_text(Path::new("/dev/zero"), 100).unwrap_err();
            assert_eq!(zero.kind(), std::io::ErrorKind::InvalidInput);
            assert!(zero.to_string().contains("a device"), "{zero}");
        }
        assert_eq!(read_text(&dir.path().join("none"), 9).unwrap_err().kind(), std::io::ErrorKind::NotFound);
        // As this crate's error: exit code 2, the path named.
        let e = read(dir.path(), 100).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().starts_with(&dir.path().display().to_string()));
    }

    #[test]
    fn lines_are_bounded_and_lose_their_ends_and_bom() {
        let text = "\u{feff}{\"a\": 1}\r\nsecond\n\nlast";
        let got: Vec<_> = lines(text.as_bytes(), 100).collect();
        assert_eq!(got, vec![Ok("{\"a\": 1}".into()), Ok("second".into()), Ok(String::new()), Ok("last".into())]);
        let long = format!("ok\n{}\nafter\n", "x".repeat(50));
        let got: Vec<_> = lines(long.as_bytes(), 20).take(2).collect();
        assert_eq!(got, vec![Ok("ok".into()), Err("line 2 is longer than 20 bytes".into())]);
        // An endless line (as from /dev/zero) ends at the limit.
        let endless = std::io::repeat(0).take(1 << 30);
        assert!(lines(endless, 1 << 16).next().unwrap().is_err());
        let bad: Vec<_> = lines(&b"\xff\xfe\n"[..], 10).collect();
        assert_eq!(bad, vec![Err("line 1 is not UTF-8 text".into())]);
    }
}
