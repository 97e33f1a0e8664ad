//! The implicit AIGC label of GB 45438-2025 (mandatory in China since 2025-09-01): an XMP
//! property `TC260:AIGC` whose value is a JSON object, in PNG as an iTXt chunk
//! `XML:com.adobe.xmp` and in JPEG as an APP1 XMP segment. The same XMP carries the prompt and
//! parameters, and PNG gets them once more as plain JSON in an iTXt chunk `picturedeck`, so a
//! downloaded picture dropped back on the page fills in the form again.

use anyhow::{ensure, Context as _};
use serde_json::{json, Value};

pub const AIGC_NS: &str = "http://www.tc260.org.cn/ns/AIGC/1.0/";
const XMP_KEYWORD: &str = "XML:com.adobe.xmp";
pub const PARAMS_KEYWORD: &str = "picturedeck";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub struct Label<'a> {
    /// Who made the content: this instance.
    pub producer: &'a str,
    /// The task's public id.
    pub produce_id: &'a str,
    /// What to reuse: `{type, prompt, model, params}`.
    pub reuse: &'a Value,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The AIGC JSON object of the standard's implicit label.
pub fn aigc_json(label: &Label<'_>) -> Value {
    json!({
        "Label": "1",
        "ContentProducer": label.producer,
        "ProduceID": label.produce_id,
        "ReservedCode1": "",
        "ContentPropagator": label.producer,
        "PropagateID": label.produce_id,
        "ReservedCode2": "",
    })
}

pub fn xmp(label: &Label<'_>) -> String {
    let aigc = xml_escape(&aigc_json(label).to_string());
    let prompt = xml_escape(label.reuse["prompt"].as_str().unwrap_or(""));
    let params = xml_escape(&label.reuse.to_string());
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
<rdf:Description rdf:about=\"\" xmlns:TC260=\"{AIGC_NS}\" xmlns:pd=\"https://picturedeck.app/ns/1.0/\">\
<TC260:AIGC>{aigc}</TC260:AIGC><pd:Prompt>{prompt}</pd:Prompt><pd:Parameters>{params}</pd:Parameters>\
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
    )
}

fn chunks(png: &[u8]) -> anyhow::Result<Vec<(&[u8], &[u8])>> {
    ensure!(png.starts_with(PNG_SIGNATURE), "not a PNG");
    let mut out = Vec::new();
    let mut at = PNG_SIGNATURE.len();
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into()?) as usize;
        let kind = &png[at + 4..at + 8];
        let data = png
            .get(at + 8..at + 8 + len)
            .context("truncated PNG chunk")?;
        out.push((kind, data));
        at += 12 + len;
        if kind == b"IEND" {
            break;
        }
    }
    ensure!(
        out.last().is_some_and(|(k, _)| *k == b"IEND"),
        "PNG without IEND"
    );
    Ok(out)
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// An uncompressed international text chunk (UTF-8, so Chinese prompts survive).
fn itxt(keyword: &str, text: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(keyword.len() + text.len() + 5);
    data.extend_from_slice(keyword.as_bytes());
    data.extend_from_slice(&[0, 0, 0, 0, 0]);
    data.extend_from_slice(text.as_bytes());
    data
}

fn itxt_text<'a>(data: &'a [u8], keyword: &str) -> Option<&'a str> {
    let rest = data
        .strip_prefix(keyword.as_bytes())?
        .strip_prefix(&[0u8])?;
    // Compression flag, method, then the language tag and translated keyword (NUL-ended).
    // A vendor's PNG may end anywhere: every step is checked, none indexes.
    let (&compressed, rest) = rest.split_first()?;
    if compressed != 0 {
        return None;
    }
    let rest = rest.get(1..)?;
    let lang_end = rest.iter().position(|b| *b == 0)?;
    let rest = rest.get(lang_end + 1..)?;
    let key_end = rest.iter().position(|b| *b == 0)?;
    std::str::from_utf8(rest.get(key_end + 1..)?).ok()
}

/// The PNG with our XMP and reuse chunks (replacing any earlier ones) before IEND.
pub fn label_png(png: &[u8], label: &Label<'_>) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(png.len() + 2048);
    out.extend_from_slice(PNG_SIGNATURE);
    for (kind, data) in chunks(png)? {
        let ours = kind == b"iTXt"
            && (itxt_text(data, XMP_KEYWORD).is_some()
                || itxt_text(data, PARAMS_KEYWORD).is_some());
        if ours {
            continue;
        }
        if kind == b"IEND" {
            write_chunk(&mut out, b"iTXt", &itxt(XMP_KEYWORD, &xmp(label)));
            write_chunk(
                &mut out,
                b"iTXt",
                &itxt(PARAMS_KEYWORD, &label.reuse.to_string()),
            );
        }
        write_chunk(&mut out, kind, data);
    }
    Ok(out)
}

/// The JPEG with an APP1 XMP segment right after SOI.
pub fn label_jpeg(jpeg: &[u8], label: &Label<'_>) -> anyhow::Result<Vec<u8>> {
    ensure!(jpeg.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let mut payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    payload.extend_from_slice(xmp(label).as_bytes());
    ensure!(
        payload.len() + 2 <= 65535,
        "XMP too large for one APP1 segment"
    );
    let mut out = Vec::with_capacity(jpeg.len() + payload.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}

/// The XMP packet of a labelled PNG.
pub fn png_xmp(png: &[u8]) -> Option<String> {
    chunks(png).ok()?.into_iter().find_map(|(k, d)| {
        (k == b"iTXt")
            .then(|| itxt_text(d, XMP_KEYWORD))
            .flatten()
            .map(str::to_string)
    })
}

/// The reuse JSON of a labelled PNG.
pub fn png_reuse(png: &[u8]) -> Option<Value> {
    let text = chunks(png).ok()?.into_iter().find_map(|(k, d)| {
        (k == b"iTXt")
            .then(|| itxt_text(d, PARAMS_KEYWORD))
            .flatten()
    })?;
    serde_json::from_str(text).ok()
}

/// The AIGC JSON inside an XMP packet.
pub fn aigc_of(xmp: &str) -> Option<Value> {
    let start = xmp.find("<TC260:AIGC>")? + "<TC260:AIGC>".len();
    let end = xmp[start..].find("</TC260:AIGC>")? + start;
    let raw = xmp[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(reuse: &Value) -> Label<'_> {
        Label {
            producer: "PictureDeck",
            produce_id: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            reuse,
        }
    }

    #[test]
    fn png_keeps_decoding_and_carries_the_label() {
        let png = crate::storage::images::encode_png(&image::RgbImage::new(8, 6)).unwrap();
        let reuse = json!({"type": "t2i", "prompt": "雪山 <日落> & \"湖\"", "params": {"seed": 7}});
        let labelled = label_png(&png, &label(&reuse)).unwrap();
        let img = image::load_from_memory(&labelled).unwrap();
        assert_eq!((img.width(), img.height()), (8, 6));
        let xmp = png_xmp(&labelled).unwrap();
        assert!(xmp.contains(AIGC_NS));
        let aigc = aigc_of(&xmp).unwrap();
        assert_eq!(aigc["Label"], "1");
        assert_eq!(aigc["ProduceID"], "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_eq!(png_reuse(&labelled).unwrap(), reuse);
        // Labelling twice replaces, never duplicates.
        let twice = label_png(&labelled, &label(&reuse)).unwrap();
        assert_eq!(twice.len(), labelled.len());
    }

    #[test]
    fn jpeg_gets_an_xmp_segment_and_still_decodes() {
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8));
        let jpeg = crate::storage::images::encode_jpeg(&img).unwrap();
        let reuse = json!({"prompt": "x"});
        let labelled = label_jpeg(&jpeg, &label(&reuse)).unwrap();
        assert!(image::load_from_memory(&labelled).is_ok());
        assert!(labelled
            .windows(AIGC_NS.len())
            .any(|w| w == AIGC_NS.as_bytes()));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(label_png(b"not a png", &label(&json!({}))).is_err());
        // A vendor PNG whose iTXt stops right after our keyword and its flag is relabelled,
        // not a panic (it used to index past the end).
        for cut in 0..4 {
            let mut data = format!("{XMP_KEYWORD}\0\0").into_bytes();
            data.extend_from_slice(&[0, 0, 0][..cut]);
            let mut png = PNG_SIGNATURE.to_vec();
            write_chunk(&mut png, b"iTXt", &data);
            write_chunk(&mut png, b"IEND", b"");
            let labelled = label_png(&png, &label(&json!({"n": cut}))).unwrap();
            assert_eq!(
                png_reuse(&labelled).unwrap(),
                json!({"n": cut}),
                "cut {cut}"
            );
        }
        assert!(label_png(PNG_SIGNATURE, &label(&json!({}))).is_err());
        assert!(label_jpeg(b"nope", &label(&json!({}))).is_err());
    }
}
