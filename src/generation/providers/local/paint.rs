// PLACEHOLDER until the procedural painter lands.
pub fn paint(prompt: &str, seed: u64, width: u32, height: u32) -> image::RgbImage {
    let h = prompt.len() as u64 ^ seed;
    image::RgbImage::from_fn(width.clamp(1, 4096), height.clamp(1, 4096), |x, y| {
        image::Rgb([(x as u64 ^ h) as u8, y as u8, h as u8])
    })
}
