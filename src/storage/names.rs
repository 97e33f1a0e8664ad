//! What a result is called when it leaves PictureDeck (a download, an entry in an export):
//! `PictureDeck_<prompt start>_<date>.<ext>`, so a folder of downloads reads like a gallery.

use chrono::NaiveDateTime;

/// Characters of the prompt kept in a name: enough to recognise it, short enough for any disk.
const PROMPT_CHARS: usize = 24;

pub fn extension(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        _ => "png",
    }
}

/// The start of the prompt with anything a file system or a shell dislikes turned into `_`;
/// letters of every script stay (雪山日落 stays 雪山日落).
fn prompt_start(prompt: &str) -> String {
    let mut out = String::new();
    for c in prompt.chars() {
        if out.chars().count() >= PROMPT_CHARS {
            break;
        }
        if c.is_alphanumeric() || c == '-' {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// `PictureDeck_雪山日落_20261201-0451.png`; without a usable prompt `PictureDeck_20261201-0451.png`.
pub fn download_name(prompt: Option<&str>, created: NaiveDateTime, mime: &str) -> String {
    let start = prompt_start(prompt.unwrap_or_default());
    let date = created.format("%Y%m%d-%H%M");
    let ext = extension(mime);
    if start.is_empty() {
        format!("PictureDeck_{date}.{ext}")
    } else {
        format!("PictureDeck_{start}_{date}.{ext}")
    }
}

/// A Content-Disposition value naming `name`: an ASCII `filename` for old clients and the
/// UTF-8 `filename*` of RFC 5987/6266, which every current browser prefers.
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(4, 51, 5))
            .unwrap()
    }

    #[test]
    fn names_start_with_the_prompt_and_end_with_the_date() {
        assert_eq!(
            download_name(Some("雪山日落，湖面倒影"), at(), "image/png"),
            "PictureDeck_雪山日落_湖面倒影_20261201-0451.png"
        );
        assert_eq!(
            download_name(Some("a/b\\c: \"d\" <e>"), at(), "video/mp4"),
            "PictureDeck_a_b_c_d_e_20261201-0451.mp4"
        );
        assert_eq!(
            download_name(Some("  ？！ "), at(), "image/jpeg"),
            "PictureDeck_20261201-0451.jpg"
        );
        let long = download_name(Some(&"山".repeat(100)), at(), "image/png");
        assert_eq!(
            long,
            format!("PictureDeck_{}_20261201-0451.png", "山".repeat(24))
        );
    }

    #[test]
    fn disposition_carries_an_ascii_fallback_and_the_utf8_name() {
        assert_eq!(
            content_disposition("attachment", "PictureDeck_雪山_1.png"),
            "attachment; filename=\"PictureDeck____1.png\"; \
             filename*=UTF-8''PictureDeck_%E9%9B%AA%E5%B1%B1_1.png"
        );
    }
}
