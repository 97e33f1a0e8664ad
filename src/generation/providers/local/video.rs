//! H.264 MP4 clips for the local engine: a "Ken Burns" pan and zoom over a still, and a smooth
//! interpolation between two keyframes. Frames are rendered here (bilinear, cover-fit), encoded with
//! OpenH264 (constrained baseline, yuv420p, BT.601 limited range) and muxed with the `mp4` crate as
//! an `avc1` track (AVCC samples, SPS/PPS in `avcC`), which is what browsers' `<video>` expects.

use std::io::Cursor;

use anyhow::{bail, ensure, Context, Result};
use image::{imageops, RgbImage};
use mp4::{
    AvcConfig, Bytes, FourCC, MediaConfig, Mp4Config, Mp4Reader, Mp4Sample, Mp4Writer, TrackConfig,
    TrackType,
};
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, Profile,
    RateControlMode, SpsPpsStrategy, UsageType, VuiConfig,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::{OpenH264API, Timestamp};

/// Frames per second of every clip we write.
pub const FPS: u32 = 24;

/// Media timescale (ticks per second) of the track and the movie: one frame lasts exactly 1000 ticks.
const TIMESCALE: u32 = FPS * 1000;
const FRAME_TICKS: u32 = TIMESCALE / FPS;
/// An IDR (sync sample) every two seconds.
const IDR_PERIOD: u32 = 2 * FPS;
const MIN_EDGE: u32 = 16;
/// Frames are at most 1920x1080 (or 1080x1920): the long edge at most 1920, the short one at most 1080.
const MAX_LONG_EDGE: u32 = 1920;
const MAX_SHORT_EDGE: u32 = 1080;

/// H.264 NAL unit types we look at.
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// Encodes RGB frames (all `width` x `height`, both even and >= 16) as an H.264 (constrained
/// baseline, yuv420p) MP4 that plays in Chromium's <video> and common players.
pub fn encode_mp4(
    width: u32,
    height: u32,
    frames: impl IntoIterator<Item = image::RgbImage>,
) -> anyhow::Result<Vec<u8>> {
    ensure!(
        width >= MIN_EDGE
            && height >= MIN_EDGE
            && width.is_multiple_of(2)
            && height.is_multiple_of(2),
        "video size {width}x{height}: both sides must be even and at least {MIN_EDGE}"
    );
    ensure!(
        width.max(height) <= MAX_LONG_EDGE && width.min(height) <= MAX_SHORT_EDGE,
        "video size {width}x{height} is larger than {MAX_LONG_EDGE}x{MAX_SHORT_EDGE}"
    );
    let (w, h) = (width as usize, height as usize);

    let config = EncoderConfig::new()
        .profile(Profile::Baseline)
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        .bitrate(BitRate::from_bps(bitrate_for(width, height)))
        .max_frame_rate(FrameRate::from_hz(FPS as f32))
        // Every input frame must become a sample: the clip's length is its frame count.
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(IDR_PERIOD))
        .sps_pps_strategy(SpsPpsStrategy::ConstantId)
        .complexity(Complexity::Medium)
        .vui(VuiConfig::bt601())
        .num_threads(1);
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .context("starting the H.264 encoder")?;

    let mut yuv = vec![0u8; w * h * 3 / 2];
    let mut sps: Option<Vec<u8>> = None;
    let mut pps: Option<Vec<u8>> = None;
    let mut samples: Vec<Sample> = Vec::new();
    let mut lead_ticks = 0u32;

    for (index, frame) in frames.into_iter().enumerate() {
        ensure!(
            frame.dimensions() == (width, height),
            "frame {index} is {}x{}, the video is {width}x{height}",
            frame.width(),
            frame.height()
        );
        rgb_to_i420(&frame, &mut yuv);
        let (y_plane, chroma) = yuv.split_at(w * h);
        let (u_plane, v_plane) = chroma.split_at(w * h / 4);
        let source = YUVSlices::new((y_plane, u_plane, v_plane), (w, h), (w, w / 2, w / 2));
        let timestamp = Timestamp::from_millis(index as u64 * 1000 / u64::from(FPS));
        let stream = encoder
            .encode_at(&source, timestamp)
            .with_context(|| format!("encoding frame {index}"))?;

        let mut sample = Sample {
            bytes: Vec::new(),
            sync: false,
            ticks: FRAME_TICKS,
        };
        for layer in (0..stream.num_layers()).filter_map(|l| stream.layer(l)) {
            for nal in (0..layer.nal_count()).filter_map(|n| layer.nal_unit(n)) {
                let nal = strip_start_code(nal);
                let Some(&header) = nal.first() else { continue };
                match header & 0x1f {
                    NAL_SPS => keep_parameter_set(&mut sps, nal, "SPS")?,
                    NAL_PPS => keep_parameter_set(&mut pps, nal, "PPS")?,
                    NAL_AUD => {}
                    kind => {
                        sample.sync |= kind == NAL_IDR;
                        let len = u32::try_from(nal.len()).context("NAL unit larger than 4 GiB")?;
                        sample.bytes.extend_from_slice(&len.to_be_bytes());
                        sample.bytes.extend_from_slice(nal);
                    }
                }
            }
        }

        if sample.bytes.is_empty() {
            // A skipped frame (should not happen with skipping off): the previous picture stays up longer.
            match samples.last_mut() {
                Some(previous) => previous.ticks += FRAME_TICKS,
                None => lead_ticks += FRAME_TICKS,
            }
        } else {
            if samples.is_empty() {
                ensure!(
                    sample.sync,
                    "the encoder's first frame is not an IDR picture"
                );
                sample.ticks += lead_ticks;
            }
            samples.push(sample);
        }
    }

    ensure!(!samples.is_empty(), "no frames to encode");
    let sps = sps.context("the encoder wrote no SPS")?;
    let pps = pps.context("the encoder wrote no PPS")?;
    // `AvcCBox::new` reads profile, constraints and level from the SPS's first bytes.
    ensure!(
        sps.len() >= 4,
        "the encoder's SPS is too short ({} bytes)",
        sps.len()
    );
    mux(width, height, sps, pps, samples)
}

/// A slow "Ken Burns" pan and zoom across `still` for `seconds` (2..=5): output `width` x `height`.
pub fn pan_zoom(
    still: &image::RgbImage,
    width: u32,
    height: u32,
    seconds: u32,
    seed: u64,
    encoded: &(dyn Fn(f32) + Sync),
) -> anyhow::Result<Vec<u8>> {
    ensure!(
        still.width() > 0 && still.height() > 0,
        "the still image is empty"
    );
    let (width, height) = frame_size(width, height);
    let count = seconds.clamp(2, 5) * FPS;
    let mut rng = Rng::new(seed ^ 0x6b65_6e5f_6275_726e);

    // Zoom in (or out) between about 1.0x and 1.15-1.25x, drifting from near the centre towards a
    // seeded point.
    let (near, far) = (1.0 + 0.04 * rng.unit(), 1.15 + 0.10 * rng.unit());
    let (zoom_from, zoom_to) = if rng.unit() < 0.5 {
        (near, far)
    } else {
        (far, near)
    };
    let focus_from = (
        0.5 + 0.3 * (rng.unit() - 0.5),
        0.5 + 0.3 * (rng.unit() - 0.5),
    );
    let focus_to = (0.15 + 0.7 * rng.unit(), 0.15 + 0.7 * rng.unit());

    let source = prescale(still, width, height, zoom_from.max(zoom_to));
    let frame = |i: u32| {
        let t = ease_motion(progress(i, count));
        let view = View::new(
            &source,
            width,
            height,
            lerp(zoom_from, zoom_to, t),
            lerp2(focus_from, focus_to, t),
        );
        let mut frame = RgbImage::new(width, height);
        render(&source, view, &mut frame);
        frame
    };
    encode_rendered(width, height, count, frame, encoded).context("encoding the pan-and-zoom clip")
}

/// Moves from `first` to `last` keyframe: smooth interpolation (eased cross-dissolve plus a gentle
/// zoom/pan so it is not a plain fade) over `seconds` (2..=5).
pub fn keyframes(
    first: &image::RgbImage,
    last: &image::RgbImage,
    width: u32,
    height: u32,
    seconds: u32,
    seed: u64,
    encoded: &(dyn Fn(f32) + Sync),
) -> anyhow::Result<Vec<u8>> {
    ensure!(
        first.width() > 0 && first.height() > 0,
        "the first keyframe is empty"
    );
    ensure!(
        last.width() > 0 && last.height() > 0,
        "the last keyframe is empty"
    );
    let (width, height) = frame_size(width, height);
    let count = seconds.clamp(2, 5) * FPS;
    let mut rng = Rng::new(seed ^ 0x6b65_7966_7261_6d65);

    // A "cross-zoom": the first keyframe pushes in towards a seeded point while the last one arrives
    // from that same framing and settles at rest. Both framings meet at the dissolve's midpoint, so
    // similar keyframes line up there, and the clip starts and ends exactly on its keyframes.
    let push = 1.08 + 0.06 * rng.unit();
    let focus = (0.3 + 0.4 * rng.unit(), 0.3 + 0.4 * rng.unit());
    let centre = (0.5, 0.5);

    let a = prescale(first, width, height, push);
    let b = prescale(last, width, height, push);
    let frame = |i: u32| {
        let t = progress(i, count);
        let e = smoothstep(t);
        let mix = smoothstep(((t - 0.15) / 0.7).clamp(0.0, 1.0));
        let view_a = View::new(
            &a,
            width,
            height,
            lerp(1.0, push, e),
            lerp2(centre, focus, e),
        );
        let view_b = View::new(
            &b,
            width,
            height,
            lerp(push, 1.0, e),
            lerp2(focus, centre, e),
        );
        let mut frame = RgbImage::new(width, height);
        if mix <= 0.0 {
            render(&a, view_a, &mut frame);
        } else if mix >= 1.0 {
            render(&b, view_b, &mut frame);
        } else {
            let mut other = RgbImage::new(width, height);
            render(&a, view_a, &mut frame);
            render(&b, view_b, &mut other);
            blend(&mut frame, &other, mix);
        }
        frame
    };
    encode_rendered(width, height, count, frame, encoded).context("encoding the keyframe clip")
}

/// The first frame of an MP4 we wrote, decoded back (used for poster frames and tests).
pub fn poster_frame(mp4_bytes: &[u8]) -> anyhow::Result<image::RgbImage> {
    decode_frames(mp4_bytes, 1)?
        .into_iter()
        .next()
        .context("the video has no decodable frame")
}

/// Renders frames `0..count` on a second thread while this one encodes: about a third faster on
/// two cores than doing both in turn. `progress` hears the share of frames encoded.
fn encode_rendered(
    width: u32,
    height: u32,
    count: u32,
    render: impl Fn(u32) -> RgbImage + Sync,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<Vec<u8>> {
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<RgbImage>(2);
        let render = &render;
        let renderer = scope.spawn(move || {
            for index in 0..count {
                if sender.send(render(index)).is_err() {
                    break; // The encoder gave up.
                }
            }
        });
        let total = count.max(1) as f32;
        let encoded = encode_mp4(
            width,
            height,
            receiver.iter().enumerate().map(|(index, frame)| {
                // Frame `index` is handed to the encoder once the previous ones are done.
                progress(index as f32 / total);
                frame
            }),
        );
        // Unblocks the renderer if the encoder stopped early.
        drop(receiver);
        renderer
            .join()
            .map_err(|_| anyhow::anyhow!("the frame renderer panicked"))?;
        encoded
    })
}

// ---------------------------------------------------------------------------------------------
// Muxing and demuxing.

struct Sample {
    /// Length-prefixed (4-byte, big-endian) NAL units: AVCC, not Annex-B.
    bytes: Vec<u8>,
    sync: bool,
    ticks: u32,
}

fn mux(
    width: u32,
    height: u32,
    sps: Vec<u8>,
    pps: Vec<u8>,
    samples: Vec<Sample>,
) -> Result<Vec<u8>> {
    let brand = |b: &[u8; 4]| FourCC::from(*b);
    let config = Mp4Config {
        major_brand: brand(b"isom"),
        minor_version: 512,
        compatible_brands: vec![
            brand(b"isom"),
            brand(b"iso2"),
            brand(b"avc1"),
            brand(b"mp41"),
        ],
        // Movie and track share the timescale, so durations convert without rounding.
        timescale: TIMESCALE,
    };
    let mut writer =
        Mp4Writer::write_start(Cursor::new(Vec::new()), &config).context("starting the MP4")?;
    writer
        .add_track(&TrackConfig {
            track_type: TrackType::Video,
            timescale: TIMESCALE,
            language: "und".into(),
            media_conf: MediaConfig::AvcConfig(AvcConfig {
                width: u16::try_from(width).context("width")?,
                height: u16::try_from(height).context("height")?,
                seq_param_set: sps,
                pic_param_set: pps,
            }),
        })
        .context("adding the video track")?;

    let mut start_time = 0u64;
    for (index, sample) in samples.into_iter().enumerate() {
        let duration = sample.ticks;
        writer
            .write_sample(
                1,
                &Mp4Sample {
                    start_time,
                    duration,
                    rendering_offset: 0,
                    is_sync: sample.sync,
                    bytes: Bytes::from(sample.bytes),
                },
            )
            .with_context(|| format!("writing sample {index}"))?;
        start_time += u64::from(duration);
    }
    writer.write_end().context("finishing the MP4")?;
    faststart(writer.into_writer().into_inner())
}

/// One top-level box: its type and byte range in the file.
struct BoxSpan {
    kind: [u8; 4],
    start: usize,
    end: usize,
}

fn box_spans(data: &[u8]) -> Result<Vec<BoxSpan>> {
    let mut spans = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let header = data.get(pos..pos + 8).context("truncated box header")?;
        let kind = [header[4], header[5], header[6], header[7]];
        let size = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            0 => data.len() - pos,
            1 => {
                let large = data.get(pos + 8..pos + 16).context("truncated box size")?;
                usize::try_from(u64::from_be_bytes(large.try_into()?))?
            }
            size => size as usize,
        };
        ensure!(
            size >= 8 && size <= data.len() - pos,
            "box {:?} has a bad size",
            String::from_utf8_lossy(&kind)
        );
        spans.push(BoxSpan {
            kind,
            start: pos,
            end: pos + size,
        });
        pos += size;
    }
    Ok(spans)
}

/// Moves `moov` in front of `mdat` ("fast start"), so a player can start before it has the whole
/// file, and shifts the chunk offsets in `stco`/`co64` by the bytes it moved.
fn faststart(file: Vec<u8>) -> Result<Vec<u8>> {
    let spans = box_spans(&file).context("reading the MP4 we wrote")?;
    let find = |kind: &[u8; 4]| spans.iter().position(|s| &s.kind == kind);
    let (Some(moov), Some(mdat)) = (find(b"moov"), find(b"mdat")) else {
        bail!("the MP4 lacks moov or mdat")
    };
    if moov < mdat {
        return Ok(file);
    }
    let mut moov_box = file[spans[moov].start..spans[moov].end].to_vec();
    let shift = moov_box.len() as u64;
    shift_chunk_offsets(&mut moov_box, shift).context("moving the chunk offsets")?;

    let mut out = Vec::with_capacity(file.len());
    for (index, span) in spans.iter().enumerate() {
        if index == mdat {
            out.extend_from_slice(&moov_box);
        }
        if index != moov {
            out.extend_from_slice(&file[span.start..span.end]);
        }
    }
    Ok(out)
}

/// Adds `shift` to every chunk offset inside `container` (a box, header included), descending into
/// the boxes on the way to the sample tables.
fn shift_chunk_offsets(container: &mut [u8], shift: u64) -> Result<()> {
    let body = container.get_mut(8..).context("truncated container")?;
    for span in box_spans(body)? {
        let inner = &mut body[span.start..span.end];
        match &span.kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => shift_chunk_offsets(inner, shift)?,
            b"stco" | b"co64" => {
                let wide = &span.kind == b"co64";
                let table = inner.get_mut(8..).context("truncated chunk offset box")?;
                let count = table.get(4..8).context("truncated chunk offset box")?;
                let count = u32::from_be_bytes(count.try_into()?) as usize;
                let width = if wide { 8 } else { 4 };
                let entries = table
                    .get_mut(8..8 + count * width)
                    .context("truncated chunk offset table")?;
                for entry in entries.chunks_exact_mut(width) {
                    if wide {
                        let value = u64::from_be_bytes((&*entry).try_into()?) + shift;
                        entry.copy_from_slice(&value.to_be_bytes());
                    } else {
                        let value = u64::from(u32::from_be_bytes((&*entry).try_into()?)) + shift;
                        let value = u32::try_from(value).context("chunk offset beyond 4 GiB")?;
                        entry.copy_from_slice(&value.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where the child boxes start inside a container box the `mp4` crate walks into.
fn children_at(kind: &[u8]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"edts" | b"udta" | b"mvex"
        | b"moof" | b"traf" | b"mfra" | b"ilst" => Some(0),
        b"meta" => Some(4),
        b"stsd" | b"dref" => Some(8),
        b"mp4a" => Some(28),
        b"avc1" | b"hev1" | b"hvc1" | b"vp09" | b"encv" => Some(78),
        _ => None,
    }
}

/// Every box at least as long as its header and inside its parent. The `mp4` crate seeks to
/// a box's start plus its size, so a box of size 0 (or smaller than its header) makes it read
/// the same header forever (found by fuzzing).
fn check_boxes(data: &[u8], depth: u32) -> Result<()> {
    ensure!(depth < 12, "boxes nested too deep");
    let mut rest = data;
    while !rest.is_empty() {
        ensure!(rest.len() >= 8, "a truncated box header");
        let (size, header) = match u32::from_be_bytes(rest[..4].try_into()?) {
            1 => {
                ensure!(rest.len() >= 16, "a truncated box header");
                (u64::from_be_bytes(rest[8..16].try_into()?), 16)
            }
            size => (u64::from(size), 8),
        };
        ensure!(
            size >= header as u64 && size <= rest.len() as u64,
            "a box size out of range"
        );
        let (this, next) = rest.split_at(size as usize);
        if let Some(skip) = children_at(&this[4..8]) {
            if let Some(children) = this[header..].get(skip..) {
                check_boxes(children, depth + 1)?;
            }
        }
        rest = next;
    }
    Ok(())
}

/// Samples read from the start of a track before giving up on a picture.
const MAX_SAMPLES_TRIED: u32 = 600;

/// Refuses sample tables the `mp4` crate would trip over (it divides by `samples_per_chunk`,
/// unwraps the `stts` lookup, allocates a sample's claimed size, and adds sizes in `u32`):
/// every table present and consistent, and every sample inside the file.
fn check_tables(track: &mp4::Mp4Track, file_len: u64) -> Result<()> {
    ensure!(track.trafs.is_empty(), "fragmented MP4 is not supported");
    let stbl = &track.trak.mdia.minf.stbl;
    let samples = stbl.stsz.sample_count;
    ensure!(samples > 0, "the track has no samples");
    let total_size = if stbl.stsz.sample_size > 0 {
        u64::from(stbl.stsz.sample_size) * u64::from(samples)
    } else {
        ensure!(
            stbl.stsz.sample_sizes.len() == samples as usize,
            "stsz lists {} sizes for {samples} samples",
            stbl.stsz.sample_sizes.len()
        );
        stbl.stsz.sample_sizes.iter().map(|&s| u64::from(s)).sum()
    };
    ensure!(
        total_size <= file_len,
        "the samples are larger than the file"
    );
    let timed: u64 = stbl
        .stts
        .entries
        .iter()
        .map(|e| u64::from(e.sample_count))
        .sum();
    // The crate counts samples from 1 in u32 and unwraps the lookup (found by fuzzing).
    ensure!(
        timed >= u64::from(samples) && timed < u64::from(u32::MAX),
        "stts does not time every sample"
    );
    // The crate adds up start times in u64 without checking.
    stbl.stts
        .entries
        .iter()
        .try_fold(0u64, |at, e| {
            at.checked_add(u64::from(e.sample_count) * u64::from(e.sample_delta))
        })
        .context("stts durations overflow")?;
    let chunks = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.len(),
        (None, Some(co64)) => co64.entries.len(),
        (None, None) => bail!("no chunk offsets (stco/co64)"),
    };
    ensure!(chunks > 0, "no chunk offsets");
    ensure!(!stbl.stsc.entries.is_empty(), "empty stsc");
    let mut previous = 0u32;
    for entry in &stbl.stsc.entries {
        ensure!(entry.samples_per_chunk > 0, "stsc has a chunk of 0 samples");
        ensure!(
            entry.first_chunk > previous && entry.first_chunk as usize <= chunks,
            "stsc chunk numbers out of order or range"
        );
        previous = entry.first_chunk;
    }
    Ok(())
}

/// Decodes up to `limit` frames from the start of an MP4's H.264 track.
fn decode_frames(mp4_bytes: &[u8], limit: usize) -> Result<Vec<RgbImage>> {
    check_boxes(mp4_bytes, 0)?;
    let mut reader = Mp4Reader::read_header(Cursor::new(mp4_bytes), mp4_bytes.len() as u64)
        .context("reading the MP4 header")?;
    let (track_id, sample_count, params, length_size) = {
        let track = reader
            .tracks()
            .values()
            .find(|t| t.trak.mdia.minf.stbl.stsd.avc1.is_some())
            .context("the MP4 has no H.264 (avc1) track")?;
        let avcc = track
            .trak
            .mdia
            .minf
            .stbl
            .stsd
            .avc1
            .as_ref()
            .map(|avc1| &avc1.avcc)
            .context("avc1 box")?;
        let mut params = Vec::new();
        for nal in avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avcc.picture_parameter_sets)
        {
            params.extend_from_slice(&[0, 0, 0, 1]);
            params.extend_from_slice(&nal.bytes);
        }
        check_tables(track, mp4_bytes.len() as u64)?;
        (
            track.track_id(),
            track.sample_count(),
            params,
            usize::from(avcc.length_size_minus_one & 3) + 1,
        )
    };

    let config = DecoderConfig::new();
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
        .context("starting the decoder")?;
    let mut frames = Vec::new();
    let mut packet = Vec::new();
    // A stream that yields no picture in its first samples has no poster worth waiting for.
    for sample_id in 1..=sample_count.min(MAX_SAMPLES_TRIED) {
        if frames.len() >= limit {
            break;
        }
        let sample = reader
            .read_sample(track_id, sample_id)
            .with_context(|| format!("reading sample {sample_id}"))?
            .with_context(|| format!("sample {sample_id} is missing"))?;
        packet.clear();
        if sample_id == 1 {
            packet.extend_from_slice(&params);
        }
        avcc_to_annex_b(&sample.bytes, length_size, &mut packet)
            .with_context(|| format!("sample {sample_id} is not length-prefixed H.264"))?;
        if let Some(yuv) = decoder
            .decode(&packet)
            .with_context(|| format!("decoding sample {sample_id}"))?
        {
            frames.push(yuv_to_rgb(&yuv)?);
        }
    }
    if frames.len() < limit {
        for yuv in decoder.flush_remaining().context("flushing the decoder")? {
            if frames.len() >= limit {
                break;
            }
            frames.push(yuv_to_rgb(&yuv)?);
        }
    }
    Ok(frames)
}

fn yuv_to_rgb(yuv: &openh264::decoder::DecodedYUV<'_>) -> Result<RgbImage> {
    let (w, h) = yuv.dimensions();
    let mut rgb = vec![0u8; w * h * 3];
    yuv.write_rgb8(&mut rgb);
    RgbImage::from_raw(u32::try_from(w)?, u32::try_from(h)?, rgb).context("decoded frame size")
}

/// Length-prefixed NAL units (AVCC) to start-code-prefixed ones (Annex-B), appended to `out`.
fn avcc_to_annex_b(mut data: &[u8], length_size: usize, out: &mut Vec<u8>) -> Result<()> {
    while !data.is_empty() {
        ensure!(data.len() >= length_size, "truncated NAL length");
        let (prefix, rest) = data.split_at(length_size);
        let len = prefix
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        ensure!(
            len > 0 && len <= rest.len(),
            "NAL length {len} does not fit in {} bytes",
            rest.len()
        );
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(&rest[..len]);
        data = &rest[len..];
    }
    Ok(())
}

/// One Annex-B NAL unit (as OpenH264 hands them out) without its `00 00 01` / `00 00 00 01` prefix.
fn strip_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&b| b == 0).count();
    if zeros >= 2 && nal.get(zeros) == Some(&1) {
        &nal[zeros + 1..]
    } else {
        nal
    }
}

/// Parameter sets go into `avcC` only, so every one the encoder repeats before an IDR must match.
fn keep_parameter_set(slot: &mut Option<Vec<u8>>, nal: &[u8], what: &str) -> Result<()> {
    match slot {
        None => *slot = Some(nal.to_vec()),
        Some(kept) if kept.as_slice() == nal => {}
        Some(_) => bail!("the encoder changed its {what} mid-stream"),
    }
    Ok(())
}

/// About 3 Mbit/s at 1280x720, scaled with the pixel count.
fn bitrate_for(width: u32, height: u32) -> u32 {
    let bps = f64::from(width) * f64::from(height) * f64::from(FPS) * 0.14;
    bps.clamp(400_000.0, 6_000_000.0) as u32
}

// ---------------------------------------------------------------------------------------------
// Pixels.

/// The output size for a requested one: scaled down (aspect kept) to fit 1920x1080 or 1080x1920,
/// at least 16 per side, both sides even.
fn frame_size(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let scale = (f64::from(MAX_LONG_EDGE) / w.max(h))
        .min(f64::from(MAX_SHORT_EDGE) / w.min(h))
        .min(1.0);
    let fit = |side: f64| ((side * scale).floor() as u32).max(MIN_EDGE) & !1;
    (fit(w), fit(h))
}

/// RGB to I420 (BT.601, limited range; chroma is the mean of each 2x2 block).
fn rgb_to_i420(rgb: &RgbImage, out: &mut [u8]) {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (y_plane, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);
    let luma = |r: i32, g: i32, b: i32| ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;

    let src_rows = rgb.as_raw().chunks_exact(w * 6);
    let y_rows = y_plane.chunks_exact_mut(w * 2);
    let uv_rows = u_plane
        .chunks_exact_mut(w / 2)
        .zip(v_plane.chunks_exact_mut(w / 2));
    for ((src, ys), (us, vs)) in src_rows.zip(y_rows).zip(uv_rows) {
        let (src0, src1) = src.split_at(w * 3);
        let (ys0, ys1) = ys.split_at_mut(w);
        let pixels = src0.chunks_exact(6).zip(src1.chunks_exact(6));
        let lumas = ys0.chunks_exact_mut(2).zip(ys1.chunks_exact_mut(2));
        for (((p0, p1), (y0, y1)), (u, v)) in
            pixels.zip(lumas).zip(us.iter_mut().zip(vs.iter_mut()))
        {
            let px =
                |p: &[u8], i: usize| (i32::from(p[i]), i32::from(p[i + 1]), i32::from(p[i + 2]));
            let quad = [px(p0, 0), px(p0, 3), px(p1, 0), px(p1, 3)];
            let [a, b, c, d] = quad.map(|(r, g, b)| luma(r, g, b) as u8);
            y0[0] = a;
            y0[1] = b;
            y1[0] = c;
            y1[1] = d;
            let (r, g, b) = quad
                .iter()
                .fold((0, 0, 0), |s, p| (s.0 + p.0, s.1 + p.1, s.2 + p.2));
            *u = (((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128).clamp(0, 255) as u8;
            *v = (((112 * r - 94 * g - 18 * b + 512) >> 10) + 128).clamp(0, 255) as u8;
        }
    }
}

/// The part of a source image one frame shows, in source pixels (top-left corner and size).
#[derive(Clone, Copy, Debug)]
struct View {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl View {
    /// The cover-fit window of `width:height` aspect over `src`, narrowed by `zoom` (>= 1) and placed
    /// at `focus` (0..1 per axis: how far along the room left to move), so it always stays inside.
    fn new(src: &RgbImage, width: u32, height: u32, zoom: f64, focus: (f64, f64)) -> Self {
        let (sw, sh) = (f64::from(src.width()), f64::from(src.height()));
        let aspect = f64::from(width) / f64::from(height);
        let (cw, ch) = if sw / sh > aspect {
            (sh * aspect, sh)
        } else {
            (sw, sw / aspect)
        };
        let zoom = zoom.max(1.0);
        let (w, h) = (cw / zoom, ch / zoom);
        let x = (sw - w) * focus.0.clamp(0.0, 1.0);
        let y = (sh - h) * focus.1.clamp(0.0, 1.0);
        Self { x, y, w, h }
    }
}

/// Bilinear interpolation taps along one axis: for every output pixel, two source indices and the
/// weight (0..=256) of the second.
fn taps(start: f64, span: f64, out_len: u32, src_len: u32) -> Vec<(usize, usize, u32)> {
    let step = span / f64::from(out_len);
    let last = src_len.saturating_sub(1) as usize;
    (0..out_len)
        .map(|i| {
            let pos = (start + (f64::from(i) + 0.5) * step - 0.5).clamp(0.0, last as f64);
            let i0 = pos.floor() as usize;
            let weight = ((pos - pos.floor()) * 256.0).round() as u32;
            (i0.min(last), (i0 + 1).min(last), weight.min(256))
        })
        .collect()
}

/// Draws `view` of `src` into all of `out`, bilinear.
fn render(src: &RgbImage, view: View, out: &mut RgbImage) {
    let (ow, oh) = out.dimensions();
    let cols = taps(view.x, view.w, ow, src.width());
    let rows = taps(view.y, view.h, oh, src.height());
    let stride = src.width() as usize * 3;
    let data = src.as_raw();
    for (out_row, &(r0, r1, fy)) in out.chunks_exact_mut(ow as usize * 3).zip(&rows) {
        let top = &data[r0 * stride..(r0 + 1) * stride];
        let bottom = &data[r1 * stride..(r1 + 1) * stride];
        for (px, &(c0, c1, fx)) in out_row.chunks_exact_mut(3).zip(&cols) {
            let (a, b) = (c0 * 3, c1 * 3);
            for k in 0..3 {
                let t = u32::from(top[a + k]) * (256 - fx) + u32::from(top[b + k]) * fx;
                let u = u32::from(bottom[a + k]) * (256 - fx) + u32::from(bottom[b + k]) * fx;
                px[k] = ((t * (256 - fy) + u * fy + 32768) >> 16) as u8;
            }
        }
    }
}

/// `base = base * (1 - amount) + over * amount`.
fn blend(base: &mut RgbImage, over: &RgbImage, amount: f64) {
    let w = (amount.clamp(0.0, 1.0) * 256.0).round() as u32;
    for (b, &o) in base.iter_mut().zip(over.iter()) {
        *b = ((u32::from(*b) * (256 - w) + u32::from(o) * w + 128) >> 8) as u8;
    }
}

/// Shrinks a much larger source once, with a proper filter, to about the resolution the closest
/// zoom needs: cheaper per frame and no aliasing from bilinear taps skipping pixels.
fn prescale(src: &RgbImage, width: u32, height: u32, max_zoom: f64) -> RgbImage {
    let (sw, sh) = (f64::from(src.width()), f64::from(src.height()));
    let aspect = f64::from(width) / f64::from(height);
    let cover_w = if sw / sh > aspect { sh * aspect } else { sw };
    let factor = f64::from(width) * max_zoom / cover_w;
    if factor >= 0.75 {
        return src.clone();
    }
    let nw = ((sw * factor).round() as u32).max(1);
    let nh = ((sh * factor).round() as u32).max(1);
    imageops::resize(src, nw, nh, imageops::FilterType::Triangle)
}

/// 0 for the first frame, 1 for the last.
fn progress(index: u32, count: u32) -> f64 {
    if count <= 1 {
        0.0
    } else {
        f64::from(index) / f64::from(count - 1)
    }
}

fn smoothstep(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Eased but never stopped: starts and ends gently, keeps moving in between.
fn ease_motion(t: f64) -> f64 {
    0.35 * t + 0.65 * smoothstep(t)
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

fn lerp2(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (lerp(a.0, b.0, t), lerp(a.1, b.1, t))
}

/// SplitMix64: small, seedable, good enough to place a camera.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{mean_abs_diff, mean_rgb};

    /// A moving diagonal gradient with a bright square, so frames differ and have structure.
    fn test_frame(width: u32, height: u32, index: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let square =
                (x + 2 * index) % width < width / 4 && y > height / 3 && y < height * 2 / 3;
            if square {
                image::Rgb([240, 240, 60])
            } else {
                image::Rgb([
                    (x * 255 / width) as u8,
                    (y * 255 / height) as u8,
                    (((x + y + 3 * index) * 2) % 256) as u8,
                ])
            }
        })
    }

    fn solid(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(width, height, image::Rgb(rgb))
    }

    #[test]
    fn encoded_mp4_parses_back_with_the_right_track() {
        let (w, h, seconds) = (160, 96, 3);
        let bytes = encode_mp4(w, h, (0..seconds * FPS).map(|i| test_frame(w, h, i))).unwrap();

        let reader = Mp4Reader::read_header(Cursor::new(&bytes), bytes.len() as u64).unwrap();
        assert_eq!(reader.major_brand(), &FourCC::from(*b"isom"));
        assert!(reader.compatible_brands().contains(&FourCC::from(*b"avc1")));
        assert_eq!(reader.tracks().len(), 1);
        let track = reader.tracks().values().next().unwrap();
        assert_eq!(track.track_type().unwrap(), TrackType::Video);
        assert_eq!(track.box_type().unwrap(), FourCC::from(*b"avc1"));
        assert_eq!(
            (u32::from(track.width()), u32::from(track.height())),
            (w, h)
        );
        assert_eq!(track.sample_count(), seconds * FPS);
        assert_eq!(track.timescale(), TIMESCALE);
        let duration = track.duration().as_secs_f64();
        assert!(
            (duration - f64::from(seconds)).abs() < 0.01,
            "track duration {duration}"
        );
        let movie = reader.duration().as_secs_f64();
        assert!(
            (movie - f64::from(seconds)).abs() < 0.01,
            "movie duration {movie}"
        );

        // avcC: baseline profile (66) with constraint_set1 (constrained baseline), 4-byte lengths.
        let avcc = &track.trak.mdia.minf.stbl.stsd.avc1.as_ref().unwrap().avcc;
        assert_eq!(avcc.avc_profile_indication, 66);
        assert_ne!(avcc.profile_compatibility & 0x40, 0, "constraint_set1_flag");
        assert_eq!(avcc.length_size_minus_one & 3, 3);
        assert_eq!(avcc.sequence_parameter_sets.len(), 1);
        assert_eq!(avcc.picture_parameter_sets.len(), 1);

        // Sync samples: the first, then one every IDR_PERIOD frames.
        let stss = track.trak.mdia.minf.stbl.stss.as_ref().unwrap();
        assert_eq!(stss.entries, vec![1, 1 + IDR_PERIOD]);
    }

    #[test]
    fn moov_comes_before_mdat() {
        let (w, h) = (64, 48);
        let bytes = encode_mp4(w, h, (0..2 * FPS).map(|i| test_frame(w, h, i))).unwrap();
        let kinds: Vec<[u8; 4]> = box_spans(&bytes).unwrap().iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![*b"ftyp", *b"moov", *b"mdat"]);
        // Chunk offsets still point at the samples: every sample decodes.
        assert_eq!(
            decode_frames(&bytes, usize::MAX).unwrap().len(),
            (2 * FPS) as usize
        );
        // Already fast-started files are left alone.
        assert_eq!(faststart(bytes.clone()).unwrap(), bytes);
    }

    #[test]
    fn samples_are_avcc_without_parameter_sets_or_start_codes() {
        let (w, h) = (64, 48);
        let bytes = encode_mp4(w, h, (0..2 * FPS).map(|i| test_frame(w, h, i))).unwrap();
        let mut reader = Mp4Reader::read_header(Cursor::new(&bytes), bytes.len() as u64).unwrap();
        for id in 1..=2 * FPS {
            let sample = reader.read_sample(1, id).unwrap().unwrap();
            let mut data: &[u8] = &sample.bytes;
            let mut kinds = Vec::new();
            while !data.is_empty() {
                let len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                kinds.push(data[4] & 0x1f);
                data = &data[4 + len..];
            }
            assert!(!kinds.is_empty());
            assert!(
                kinds.iter().all(|k| *k == 1 || *k == NAL_IDR || *k == 6),
                "sample {id}: {kinds:?}"
            );
            assert_eq!(sample.is_sync, kinds.contains(&NAL_IDR), "sample {id}");
        }
    }

    #[test]
    fn decoding_gives_back_the_frames() {
        let (w, h, seconds) = (160, 96, 2);
        let inputs: Vec<RgbImage> = (0..seconds * FPS).map(|i| test_frame(w, h, i)).collect();
        let bytes = encode_mp4(w, h, inputs.clone()).unwrap();
        let decoded = decode_frames(&bytes, usize::MAX).unwrap();
        assert_eq!(decoded.len(), inputs.len());
        let first = mean_abs_diff(&decoded[0], &inputs[0]);
        assert!(first < 8.0, "first frame differs by {first}");
        let last = mean_abs_diff(&decoded[inputs.len() - 1], &inputs[inputs.len() - 1]);
        assert!(last < 10.0, "last frame differs by {last}");
    }

    #[test]
    fn keyframes_go_from_red_to_blue() {
        let red = solid(200, 150, [220, 30, 30]);
        let blue = solid(90, 160, [30, 30, 220]);
        let bytes = keyframes(&red, &blue, 128, 72, 2, 7, &|_| {}).unwrap();
        let frames = decode_frames(&bytes, usize::MAX).unwrap();
        assert_eq!(frames.len(), (2 * FPS) as usize);
        let [r, _, b] = mean_rgb(&frames[0]);
        assert!(r > 180.0 && b < 70.0, "first frame is {r} red, {b} blue");
        let [r, _, b] = mean_rgb(&frames[frames.len() - 1]);
        assert!(b > 180.0 && r < 70.0, "last frame is {r} red, {b} blue");
        // In between it really is a mixture.
        let [r, _, b] = mean_rgb(&frames[frames.len() / 2]);
        assert!(r > 70.0 && b > 70.0, "middle frame is {r} red, {b} blue");
    }

    #[test]
    fn keyframes_start_and_end_on_the_keyframes() {
        let first = test_frame(160, 90, 0);
        let last = test_frame(160, 90, 30);
        let bytes = keyframes(&first, &last, 160, 90, 2, 3, &|_| {}).unwrap();
        let frames = decode_frames(&bytes, usize::MAX).unwrap();
        assert!(mean_abs_diff(&frames[0], &first) < 8.0);
        assert!(mean_abs_diff(&frames[frames.len() - 1], &last) < 10.0);
    }

    #[test]
    fn pan_zoom_moves_and_poster_has_the_right_size() {
        let still = test_frame(300, 200, 0);
        let bytes = pan_zoom(&still, 161, 91, 2, 42, &|_| {}).unwrap();
        let poster = poster_frame(&bytes).unwrap();
        assert_eq!(poster.dimensions(), (160, 90));

        let frames = decode_frames(&bytes, usize::MAX).unwrap();
        assert_eq!(frames.len(), (2 * FPS) as usize);
        assert!(
            mean_abs_diff(&frames[0], &frames[frames.len() - 1]) > 3.0,
            "the camera did not move"
        );
        assert!(mean_abs_diff(&poster, &frames[0]) < 0.01);
    }

    #[test]
    fn pan_zoom_is_deterministic_per_seed() {
        let still = test_frame(120, 80, 0);
        let a = pan_zoom(&still, 64, 48, 2, 1, &|_| {}).unwrap();
        let b = pan_zoom(&still, 64, 48, 2, 1, &|_| {}).unwrap();
        let c = pan_zoom(&still, 64, 48, 2, 2, &|_| {}).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn seconds_are_clamped() {
        let still = solid(40, 40, [10, 120, 200]);
        for (asked, got) in [(0, 2), (9, 5)] {
            let bytes = pan_zoom(&still, 32, 32, asked, 0, &|_| {}).unwrap();
            let reader = Mp4Reader::read_header(Cursor::new(&bytes), bytes.len() as u64).unwrap();
            let track = reader.tracks().values().next().unwrap();
            assert_eq!(track.sample_count(), got * FPS);
            assert!((track.duration().as_secs_f64() - f64::from(got)).abs() < 0.01);
        }
    }

    #[test]
    fn sizes_are_even_capped_and_at_least_16() {
        assert_eq!(frame_size(1280, 720), (1280, 720));
        assert_eq!(frame_size(161, 91), (160, 90));
        assert_eq!(frame_size(4000, 3000), (1440, 1080));
        assert_eq!(frame_size(2048, 2048), (1080, 1080));
        assert_eq!(frame_size(1080, 1920), (1080, 1920));
        assert_eq!(frame_size(3840, 2160), (1920, 1080));
        assert_eq!(frame_size(1, 0), (16, 16));
        for (w, h) in [(2047, 1999), (333, 77), (17, 4096)] {
            let (fw, fh) = frame_size(w, h);
            assert!(fw % 2 == 0 && fh % 2 == 0 && fw >= 16 && fh >= 16);
            assert!(
                fw.max(fh) <= 1920 && fw.min(fh) <= 1080,
                "{w}x{h} -> {fw}x{fh}"
            );
        }
    }

    #[test]
    fn encode_mp4_rejects_bad_input() {
        assert!(encode_mp4(65, 48, [RgbImage::new(65, 48)]).is_err());
        assert!(encode_mp4(8, 8, [RgbImage::new(8, 8)]).is_err());
        assert!(encode_mp4(2560, 1440, std::iter::empty()).is_err());
        assert!(encode_mp4(64, 48, std::iter::empty()).is_err());
        assert!(encode_mp4(64, 48, [RgbImage::new(64, 48), RgbImage::new(48, 64)]).is_err());
        assert!(poster_frame(b"not an mp4").is_err());
    }

    /// `bytes` with the big-endian u32 at `offset` past the first `fourcc` box type set to `value`.
    fn patched(bytes: &[u8], fourcc: &[u8; 4], offset: isize, value: u32) -> Vec<u8> {
        let at = bytes.windows(4).position(|w| w == fourcc).unwrap() as isize + offset;
        let at = at as usize;
        let mut out = bytes.to_vec();
        out[at..at + 4].copy_from_slice(&value.to_be_bytes());
        out
    }

    #[test]
    fn hostile_sample_tables_are_errors_not_panics() {
        let still = RgbImage::from_pixel(64, 48, image::Rgb([200, 40, 40]));
        let good = pan_zoom(&still, 32, 32, 1, 3, &|_| {}).unwrap();
        assert!(poster_frame(&good).is_ok());
        // The type (4 bytes), version+flags (4), the entry count or stsz's sample size (4),
        // then the entries; a stsc entry is first_chunk, samples_per_chunk, description.
        let cases = [
            ("stsc samples_per_chunk = 0", patched(&good, b"stsc", 16, 0)),
            ("stsc first_chunk = 0", patched(&good, b"stsc", 12, 0)),
            ("stsc without entries", patched(&good, b"stsc", 8, 0)),
            ("stts without entries", patched(&good, b"stts", 8, 0)),
            ("stsz size of 4 GiB", patched(&good, b"stsz", 8, u32::MAX)),
            ("stco without entries", patched(&good, b"stco", 8, 0)),
            (
                "a box of size 0, which the crate reads forever",
                patched(&good, b"tkhd", -4, 0),
            ),
        ];
        for (what, bytes) in cases {
            assert!(poster_frame(&bytes).is_err(), "{what}");
        }
    }

    #[test]
    fn smallest_size_encodes() {
        let bytes = encode_mp4(16, 16, (0..FPS).map(|i| test_frame(16, 16, i))).unwrap();
        assert_eq!(poster_frame(&bytes).unwrap().dimensions(), (16, 16));
    }

    #[test]
    fn rgb_to_i420_matches_bt601_limited_range() {
        let img = RgbImage::from_fn(4, 2, |x, _| match x {
            0 | 1 => image::Rgb([255, 255, 255]),
            _ => image::Rgb([0, 0, 0]),
        });
        let mut yuv = vec![0; 12];
        rgb_to_i420(&img, &mut yuv);
        assert_eq!(&yuv[..8], &[235, 235, 16, 16, 235, 235, 16, 16]);
        assert_eq!(&yuv[8..], &[128, 128, 128, 128]);
    }

    #[test]
    fn avcc_and_annex_b_conversions() {
        assert_eq!(strip_start_code(&[0, 0, 0, 1, 0x67, 1]), &[0x67, 1]);
        assert_eq!(strip_start_code(&[0, 0, 1, 0x68]), &[0x68]);
        assert_eq!(strip_start_code(&[0x65, 0, 0, 1]), &[0x65, 0, 0, 1]);
        let mut out = Vec::new();
        avcc_to_annex_b(&[0, 0, 0, 2, 0x65, 9, 0, 0, 0, 1, 0x41], 4, &mut out).unwrap();
        assert_eq!(out, vec![0, 0, 0, 1, 0x65, 9, 0, 0, 0, 1, 0x41]);
        assert!(avcc_to_annex_b(&[0, 0, 0, 9, 0x65], 4, &mut out).is_err());
    }
}
