// PLACEHOLDER until the filters land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    OilPainting,
    Watercolor,
    PencilSketch,
    PixelArt,
    ColorTransfer,
}
impl Style {
    pub fn from_prompt(_prompt: &str) -> Style {
        Style::OilPainting
    }
    pub fn from_name(_name: &str) -> Option<Style> {
        None
    }
    pub fn name(self) -> &'static str {
        "oil_painting"
    }
}
pub fn stylize(
    src: &image::RgbImage,
    _style: Style,
    _strength: f32,
    _prompt: &str,
    _palette: Option<&image::RgbImage>,
    _seed: u64,
) -> image::RgbImage {
    src.clone()
}
