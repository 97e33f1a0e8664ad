//! The prompts of a batch from pasted text or an uploaded file: a TXT with one prompt a line,
//! or a CSV whose header row has a `prompt` column (RFC 4180 quoting, other columns ignored).
//! The bytes are a stranger's: bounded in size, UTF-8 only, and every failure says what to fix.

use actix_web::http::StatusCode;

use crate::error::{AppError, AppResult};
use crate::generation::service::MAX_PROMPT_CHARS;

/// Largest prompt file: a thousand long prompts fit with room to spare.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most tasks one batch may make.
pub const MAX_ITEMS: usize = 1000;

/// One prompt a line; blank lines are skipped.
pub fn from_text(text: &str) -> AppResult<Vec<String>> {
    checked(text.lines().map(str::to_string).collect())
}

/// The prompts of an uploaded TXT or CSV file.
pub fn from_file(bytes: &[u8]) -> AppResult<Vec<String>> {
    let bad = |key: &'static str| AppError::invalid("file", key);
    if bytes.is_empty() {
        return Err(bad("group.err.file_empty"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(
            AppError::client(StatusCode::PAYLOAD_TOO_LARGE, 413, "group.err.file_large")
                .on_field("file"),
        );
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(bad("group.err.file_encoding"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    // A picture or an archive picked by mistake, or UTF-16 without its mark.
    if bytes.contains(&0) {
        return Err(bad("group.err.file_binary"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad("group.err.file_encoding"))?;
    let first = text.lines().next().unwrap_or_default();
    let header = records(first).ok().and_then(|r| r.into_iter().next());
    let column = header.and_then(|h| {
        h.iter()
            .position(|f| f.trim().eq_ignore_ascii_case("prompt"))
    });
    match column {
        Some(column) => {
            let rows = records(text).map_err(|_| bad("group.err.file_csv"))?;
            checked(
                rows.into_iter()
                    .skip(1)
                    .map(|mut r| {
                        if column < r.len() {
                            r.swap_remove(column)
                        } else {
                            String::new()
                        }
                    })
                    .collect(),
            )
        }
        None => from_text(text),
    }
}

/// Trimmed, blank ones dropped, control characters as spaces; within the limits.
fn checked(lines: Vec<String>) -> AppResult<Vec<String>> {
    let prompts: Vec<String> = lines
        .into_iter()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    if prompts.is_empty() {
        return Err(AppError::invalid("prompts", "group.err.no_prompts"));
    }
    if prompts.len() > MAX_ITEMS {
        return Err(AppError::invalid("prompts", "group.err.too_many"));
    }
    if prompts.iter().any(|p| p.chars().count() > MAX_PROMPT_CHARS) {
        return Err(AppError::invalid("prompts", "err.gen.prompt_long"));
    }
    Ok(prompts)
}

/// CSV records (RFC 4180): commas between fields, double quotes around a field that holds
/// commas, quotes (doubled) or line breaks. Err on a quote left open.
fn records(text: &str) -> Result<Vec<Vec<String>>, ()> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(());
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_are_one_prompt_a_line() {
        let got = from_file("\u{feff}a fox, in snow\r\n\n  雪山  \n".as_bytes()).unwrap();
        assert_eq!(got, ["a fox, in snow", "雪山"]);
    }

    #[test]
    fn csv_files_give_their_prompt_column() {
        let csv =
            "id,Prompt,note\n1,\"a fox, running\",x\n2,\"say \"\"hi\"\"\nin two lines\",y\n3\n";
        assert_eq!(
            from_file(csv.as_bytes()).unwrap(),
            ["a fox, running", "say \"hi\" in two lines"]
        );
        assert_eq!(
            from_file(b"prompt\n\"open").unwrap_err().key(),
            "group.err.file_csv"
        );
    }

    #[test]
    fn hostile_files_are_refused_with_a_reason() {
        let key = |b: &[u8]| from_file(b).unwrap_err().key();
        assert_eq!(key(b""), "group.err.file_empty");
        assert_eq!(key(&vec![b'a'; MAX_FILE_BYTES + 1]), "group.err.file_large");
        assert_eq!(key(b"\xff\xfea\x00"), "group.err.file_encoding");
        assert_eq!(key(b"caf\xe9\n"), "group.err.file_encoding");
        assert_eq!(key(b"\x89PNG\r\n\x1a\n\x00\x00"), "group.err.file_binary");
        assert_eq!(key(b"\n \n"), "group.err.no_prompts");
        assert_eq!(
            key("x\n".repeat(MAX_ITEMS + 1).as_bytes()),
            "group.err.too_many"
        );
        // Script is only text: kept as written, escaped wherever it is shown.
        assert_eq!(
            from_file(b"<script>alert(1)</script>\x07").unwrap(),
            ["<script>alert(1)</script>"]
        );
    }
}
