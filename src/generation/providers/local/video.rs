// PLACEHOLDER until the encoder lands.
pub const FPS: u32 = 24;
pub fn pan_zoom(
    _still: &image::RgbImage,
    _width: u32,
    _height: u32,
    _seconds: u32,
    _seed: u64,
) -> anyhow::Result<Vec<u8>> {
    anyhow::bail!("video not ready")
}
pub fn keyframes(
    _first: &image::RgbImage,
    _last: &image::RgbImage,
    _width: u32,
    _height: u32,
    _seconds: u32,
    _seed: u64,
) -> anyhow::Result<Vec<u8>> {
    anyhow::bail!("video not ready")
}
pub fn poster_frame(_mp4_bytes: &[u8]) -> anyhow::Result<image::RgbImage> {
    anyhow::bail!("video not ready")
}
