//! Picture measures that the unit tests and the integration tests (tests/it) share, so a
//! filter, a painter or a video frame is judged by one yardstick. The server never calls them.

use image::RgbImage;

/// Mean absolute difference per channel (0–255) between two pictures of the same size.
///
/// # Panics
/// When the sizes differ: comparing them would measure nothing.
pub fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "pictures of one size");
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

/// The mean of each channel (0–255): red, green, blue.
pub fn mean_rgb(img: &RgbImage) -> [f64; 3] {
    let mut sum = [0u64; 3];
    for p in img.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += u64::from(v);
        }
    }
    let n = f64::from(img.width()) * f64::from(img.height());
    sum.map(|s| s as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_no_distance_from_itself_and_black_is_255_from_white() {
        let black = RgbImage::from_pixel(4, 3, image::Rgb([0, 0, 0]));
        let white = RgbImage::from_pixel(4, 3, image::Rgb([255, 255, 255]));
        assert_eq!(mean_abs_diff(&black, &black), 0.0);
        assert_eq!(mean_abs_diff(&black, &white), 255.0);
        let red = RgbImage::from_pixel(2, 2, image::Rgb([200, 10, 0]));
        assert_eq!(mean_rgb(&red), [200.0, 10.0, 0.0]);
    }
}
