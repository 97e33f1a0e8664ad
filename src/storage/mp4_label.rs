//! The implicit AIGC label of GB 45438-2025 in MP4: the same XMP packet as in pictures, in a
//! top-level `uuid` box BE7ACFCB-97A9-42E8-9C71-999491E3AFAC (where exiftool and Adobe read
//! XMP in MP4) and once more as `moov/udta/XMP_` (QuickTime's place for it). Labelling again
//! replaces both. Growing `moov` moves whatever follows it, so when the media data comes after
//! `moov` (a "fast start" file) the chunk offsets in `stco`/`co64` move with it.

use anyhow::{ensure, Context as _};

use super::label::{xmp, Label};

pub const XMP_UUID: [u8; 16] = [
    0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC,
];

/// One box: where it starts, its header length, where it ends and its type.
#[derive(Debug, Clone, Copy)]
struct Atom {
    start: usize,
    header: usize,
    end: usize,
    kind: [u8; 4],
}

impl Atom {
    fn body<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start + self.header..self.end]
    }
}

fn u32_at(data: &[u8], at: usize) -> anyhow::Result<u32> {
    let bytes = data.get(at..at + 4).context("truncated box")?;
    Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn u64_at(data: &[u8], at: usize) -> anyhow::Result<u64> {
    let bytes = data.get(at..at + 8).context("truncated box")?;
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    Ok(u64::from_be_bytes(b))
}

/// The boxes between `from` and `to`, which they must fill exactly.
fn atoms(data: &[u8], from: usize, to: usize) -> anyhow::Result<Vec<Atom>> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        ensure!(to - at >= 8, "truncated box header at {at}");
        let size32 = u32_at(data, at)?;
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&data[at + 4..at + 8]);
        let (header, size) = match size32 {
            0 => (8, to - at),
            1 => {
                let size = usize::try_from(u64_at(data, at + 8)?).context("box too large")?;
                (16, size)
            }
            n => (8, n as usize),
        };
        ensure!(
            size >= header && size <= to - at,
            "box {} at {at} has a size out of range",
            String::from_utf8_lossy(&kind)
        );
        out.push(Atom {
            start: at,
            header,
            end: at + size,
            kind,
        });
        at += size;
    }
    Ok(out)
}

fn boxed(kind: &[u8; 4], body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let size = u32::try_from(body.len() + 8).context("box too large")?;
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    Ok(out)
}

fn is_our_uuid(data: &[u8], a: &Atom) -> bool {
    &a.kind == b"uuid" && a.body(data).starts_with(&XMP_UUID)
}

/// The MP4 with the label; an MP4 whose boxes do not add up is an error.
pub fn label_mp4(mp4: &[u8], label: &Label<'_>) -> anyhow::Result<Vec<u8>> {
    let packet = xmp(label);
    let top = atoms(mp4, 0, mp4.len())?;
    let moov = *top
        .iter()
        .find(|a| &a.kind == b"moov")
        .context("an MP4 without moov")?;
    ensure!(moov.header == 8, "a 64-bit moov is not supported");
    let new_moov = moov_with_xmp(mp4, &moov, packet.as_bytes())?;
    let growth = new_moov.len() as i64 - (moov.end - moov.start) as i64;
    // What moves a byte at `p` of the old file: the earlier labels taken out before it, and
    // moov's growth when it lies after moov.
    let dropped: Vec<Atom> = top
        .iter()
        .filter(|a| is_our_uuid(mp4, a))
        .copied()
        .collect();
    let shift = |p: u64| -> i64 {
        let mut d = 0;
        if p >= moov.end as u64 {
            d += growth;
        }
        for a in &dropped {
            if p >= a.end as u64 {
                d -= (a.end - a.start) as i64;
            }
        }
        d
    };
    let mut new_moov = new_moov;
    patch_chunk_offsets(&mut new_moov, &shift)?;

    let mut out = Vec::with_capacity(mp4.len() + 2 * packet.len() + 64);
    for a in &top {
        if a.start == moov.start {
            out.extend_from_slice(&new_moov);
        } else if !is_our_uuid(mp4, a) {
            out.extend_from_slice(&mp4[a.start..a.end]);
        }
    }
    let mut body = XMP_UUID.to_vec();
    body.extend_from_slice(packet.as_bytes());
    out.extend_from_slice(&boxed(b"uuid", &body)?);
    Ok(out)
}

/// `moov` with `udta/XMP_` holding `packet` (replacing an earlier one).
fn moov_with_xmp(mp4: &[u8], moov: &Atom, packet: &[u8]) -> anyhow::Result<Vec<u8>> {
    let xmp_box = boxed(b"XMP_", packet)?;
    let mut body = Vec::with_capacity(moov.end - moov.start + xmp_box.len() + 8);
    let mut had_udta = false;
    for child in atoms(mp4, moov.start + moov.header, moov.end)? {
        if &child.kind == b"udta" && !had_udta {
            had_udta = true;
            let mut udta = Vec::new();
            for item in atoms(mp4, child.start + child.header, child.end)? {
                if &item.kind != b"XMP_" {
                    udta.extend_from_slice(&mp4[item.start..item.end]);
                }
            }
            udta.extend_from_slice(&xmp_box);
            body.extend_from_slice(&boxed(b"udta", &udta)?);
        } else {
            body.extend_from_slice(&mp4[child.start..child.end]);
        }
    }
    if !had_udta {
        body.extend_from_slice(&boxed(b"udta", &xmp_box)?);
    }
    boxed(b"moov", &body)
}

/// Moves every chunk offset in `moov` (its `stco` and `co64` tables) by `shift(offset)`.
fn patch_chunk_offsets(moov: &mut [u8], shift: &dyn Fn(u64) -> i64) -> anyhow::Result<()> {
    let mut tables = Vec::new();
    find_tables(moov, 8, moov.len(), &mut tables)?;
    for t in tables {
        let count = u32_at(moov, t.start + t.header + 4)? as usize;
        let wide = &t.kind == b"co64";
        let width = if wide { 8 } else { 4 };
        let first = t.start + t.header + 8;
        ensure!(
            count.checked_mul(width).and_then(|n| n.checked_add(first)) <= Some(t.end),
            "chunk offset table larger than its box"
        );
        for i in 0..count {
            let at = first + i * width;
            let old = if wide {
                u64_at(moov, at)?
            } else {
                u64::from(u32_at(moov, at)?)
            };
            let new = u64::try_from(old as i64 + shift(old)).context("chunk offset below 0")?;
            if wide {
                moov[at..at + 8].copy_from_slice(&new.to_be_bytes());
            } else {
                let new = u32::try_from(new).context("chunk offset past 4 GiB in stco")?;
                moov[at..at + 4].copy_from_slice(&new.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// The `stco` and `co64` boxes under moov/trak/mdia/minf/stbl.
fn find_tables(data: &[u8], from: usize, to: usize, out: &mut Vec<Atom>) -> anyhow::Result<()> {
    for a in atoms(data, from, to)? {
        match &a.kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => {
                find_tables(data, a.start + a.header, a.end, out)?
            }
            b"stco" | b"co64" => out.push(a),
            _ => {}
        }
    }
    Ok(())
}

/// The XMP packet of a labelled MP4 (its top-level `uuid` box).
pub fn mp4_xmp(mp4: &[u8]) -> Option<String> {
    let top = atoms(mp4, 0, mp4.len()).ok()?;
    let a = top.iter().find(|a| is_our_uuid(mp4, a))?;
    String::from_utf8(a.body(mp4)[16..].to_vec()).ok()
}

/// The XMP packet in `moov/udta/XMP_`.
pub fn mp4_udta_xmp(mp4: &[u8]) -> Option<String> {
    let top = atoms(mp4, 0, mp4.len()).ok()?;
    let moov = top.iter().find(|a| &a.kind == b"moov")?;
    let udta = atoms(mp4, moov.start + moov.header, moov.end)
        .ok()?
        .into_iter()
        .find(|a| &a.kind == b"udta")?;
    let x = atoms(mp4, udta.start + udta.header, udta.end)
        .ok()?
        .into_iter()
        .find(|a| &a.kind == b"XMP_")?;
    String::from_utf8(x.body(mp4).to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fullbox(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(body);
        boxed(kind, &b).unwrap()
    }

    /// ftyp, then moov (one track whose one chunk is at `offset`), and mdat holding `payload`;
    /// `moov_first` puts moov before mdat.
    fn tiny_mp4(moov_first: bool, payload: &[u8]) -> Vec<u8> {
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2").unwrap();
        let mdat = boxed(b"mdat", payload).unwrap();
        let moov_for = |offset: u32| {
            let mut stco_body = 1u32.to_be_bytes().to_vec();
            stco_body.extend_from_slice(&offset.to_be_bytes());
            let stbl = boxed(b"stbl", &fullbox(b"stco", &stco_body)).unwrap();
            let minf = boxed(b"minf", &stbl).unwrap();
            let mdia = boxed(b"mdia", &minf).unwrap();
            let trak = boxed(b"trak", &mdia).unwrap();
            boxed(b"moov", &trak).unwrap()
        };
        let moov_len = moov_for(0).len();
        if moov_first {
            let offset = (ftyp.len() + moov_len + 8) as u32;
            [ftyp, moov_for(offset), mdat].concat()
        } else {
            let offset = (ftyp.len() + 8) as u32;
            [ftyp, mdat, moov_for(offset)].concat()
        }
    }

    /// The bytes the first chunk offset points at.
    fn first_chunk(mp4: &[u8], len: usize) -> Vec<u8> {
        let at = mp4.windows(4).position(|w| w == b"stco").expect("stco");
        let offset = u32_at(mp4, at + 4 + 8).unwrap() as usize;
        mp4[offset..offset + len].to_vec()
    }

    #[test]
    fn both_layouts_carry_the_label_and_keep_their_chunks() {
        let reuse = json!({"type": "t2v", "prompt": "海浪"});
        let label = Label {
            producer: "PictureDeck",
            produce_id: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            reuse: &reuse,
        };
        for moov_first in [false, true] {
            let mp4 = tiny_mp4(moov_first, b"FRAMEDATA");
            assert_eq!(first_chunk(&mp4, 9), b"FRAMEDATA");
            let labelled = label_mp4(&mp4, &label).unwrap();
            assert_eq!(
                first_chunk(&labelled, 9),
                b"FRAMEDATA",
                "moov first: {moov_first}"
            );
            let xmp = mp4_xmp(&labelled).unwrap();
            let aigc = super::super::label::aigc_of(&xmp).unwrap();
            assert_eq!(aigc["ProduceID"], "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
            assert_eq!(mp4_udta_xmp(&labelled).unwrap(), xmp);
            // Labelling again replaces, never adds.
            let twice = label_mp4(&labelled, &label).unwrap();
            assert_eq!(twice.len(), labelled.len());
            assert_eq!(first_chunk(&twice, 9), b"FRAMEDATA");
        }
    }

    #[test]
    fn broken_boxes_are_an_error() {
        let reuse = json!({});
        let label = Label {
            producer: "p",
            produce_id: "i",
            reuse: &reuse,
        };
        let mp4 = tiny_mp4(false, b"x");
        assert!(
            label_mp4(&mp4[..mp4.len() - 3], &label).is_err(),
            "truncated"
        );
        assert!(label_mp4(b"\0\0\0\x08ftyp", &label).is_err(), "no moov");
        assert!(label_mp4(b"nope", &label).is_err());
    }
}
