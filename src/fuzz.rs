//! The parsers that see attacker bytes, each behind one function that takes the bytes whole.
//! The `cargo fuzz` targets in fuzz/ call these, and so does the replay of their saved corpus
//! (tests/fixtures/fuzz/<target>/) in an ordinary `cargo test`: see docs/fuzzing.md.
//!
//! They call the parsers as production does, except that MP4 and image decoding run without
//! `media::contained`, so that a panic our checks let through is a crash the fuzzer reports.

use std::io::Cursor;

use crate::library::archive::Archive;
use crate::storage::{images, label, media};

/// An archive as `POST /api/v1/library/import` reads it: the manifest, then every file it
/// names, checked and decoded.
pub fn zip_import(data: &[u8]) {
    let Ok(mut archive) = Archive::open(Cursor::new(data), 64 * 1024 * 1024) else {
        return;
    };
    for item in std::mem::take(&mut archive.items) {
        let _ = archive.read(&item);
    }
}

/// The poster frame of an MP4 (imports and vendor results).
pub fn mp4_poster(data: &[u8]) {
    let _ = crate::generation::providers::local::video::poster_frame(data);
}

/// What an upload, an imported picture or a vendor's image goes through: sniffing, then
/// decoding within limits and the thumbnail; a vendor's PNG or JPEG is also labelled as it
/// came (the AIGC label and the recipe), and the recipe read back as a dropped file is.
pub fn image_decode(data: &[u8]) {
    if media::sniff(data) == Some(media::MP4) {
        return;
    }
    if let Some((format, mime)) = images::sniff(data) {
        let reuse = serde_json::json!({"prompt": "fuzz"});
        let tag = label::Label {
            producer: "PictureDeck",
            produce_id: "00000000-0000-4000-8000-000000000000",
            reuse: &reuse,
        };
        match mime {
            "image/png" => {
                let _ = label::png_reuse(data);
                if let Ok(labelled) = label::label_png(data, &tag) {
                    let _ = label::png_reuse(&labelled);
                }
            }
            "image/jpeg" => {
                let _ = label::label_jpeg(data, &tag);
            }
            _ => {}
        }
        if let Ok(img) = images::decode_upright(data, format) {
            let _ = images::thumbnail(&img);
        }
    }
}

/// An upload body: the first line is the Content-Type, the rest the body.
pub fn multipart_upload(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (
            String::from_utf8_lossy(&data[..at]).into_owned(),
            &data[at + 1..],
        ),
        None => (String::new(), data),
    };
    if let Ok(file) = crate::web::upload::file_part(Some(&content_type), body) {
        assert!(file.len() <= body.len());
    }
}

/// One fuzz target: takes any bytes, must not panic.
pub type Target = fn(&[u8]);

/// Every target by the name of its folder under fuzz/fuzz_targets and tests/fixtures/fuzz.
pub const TARGETS: [(&str, Target); 4] = [
    ("zip_import", zip_import),
    ("mp4_poster", mp4_poster),
    ("image_decode", image_decode),
    ("multipart_upload", multipart_upload),
];

#[cfg(test)]
mod tests {
    /// The saved corpus, crashes found so far included, goes through the targets again.
    #[test]
    fn the_saved_fuzz_corpus_replays_without_a_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
        for (name, target) in super::TARGETS {
            let dir = root.join(name);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "no saved inputs for {name}");
            for file in files {
                let data = std::fs::read(&file).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name} panicked on {}", file.display());
            }
        }
    }
}
