//! Untrusted image bytes to an RGB pixel buffer: format sniffing, size limits checked from the
//! header before any decoding, EXIF orientation, and grey/alpha to RGB.
//!
//! JPEG goes through [`crate::jpeg`], which gives libjpeg-turbo's pixels (what a browser
//! shows); the few JPEG kinds it does not reproduce (CMYK, arithmetic coding, 12-bit, ...),
//! PNG and WebP go through the `image` crate.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{FaceError, Result};
use crate::jpeg::{self, JpegError};

/// Bounds applied to every decoded image. Both are checked before pixel data is touched, so a
/// small file that declares a huge canvas (a decompression bomb) is refused cheaply.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 40_000_000,
        }
    }
}

/// An 8-bit RGB image, row-major, 3 bytes a pixel, as the networks see it.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    /// Wraps raw RGB bytes; `None` when the length is not `width * height * 3`.
    pub fn from_raw(width: u32, height: u32, pixels: Vec<u8>) -> Option<Self> {
        (pixels.len() == width as usize * height as usize * 3).then_some(Self {
            width,
            height,
            pixels,
        })
    }

    /// The pixels of the rectangle at (`x`, `y`) of `width` x `height`, clipped to the image;
    /// `None` when nothing of it lies inside.
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Option<RgbImage> {
        let right = x.saturating_add(width).min(self.width);
        let bottom = y.saturating_add(height).min(self.height);
        if x >= right || y >= bottom {
            return None;
        }
        let row = (right - x) as usize * 3;
        let mut pixels = Vec::with_capacity(row * (bottom - y) as usize);
        for line in y..bottom {
            let start = (line as usize * self.width as usize + x as usize) * 3;
            pixels.extend_from_slice(&self.pixels[start..start + row]);
        }
        Some(RgbImage {
            width: right - x,
            height: bottom - y,
            pixels,
        })
    }

    /// The pixel at (x, y) as `[r, g, b]`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

/// The smallest side we accept; below this no detector can find a face and some decoders
/// misbehave.
const MIN_SIDE: u32 = 8;

/// Decodes JPEG, PNG or WebP bytes into upright RGB, as a browser would display them.
///
/// A truncated or corrupt JPEG is an [`FaceError::ImageDecode`] error, never a partly grey
/// picture.
pub fn decode_image(bytes: &[u8], limits: &ImageLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(FaceError::ImageEmpty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(FaceError::ImageTooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| FaceError::ImageFormat)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(FaceError::ImageFormat);
    }
    if format == ImageFormat::Jpeg {
        if let Some(image) = decode_jpeg(bytes, limits)? {
            return Ok(image);
        }
    }
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(width);
    decoder_limits.max_image_height = Some(height);
    // Room for the decoded buffer in its widest pixel type (16-bit RGBA) plus decoder scratch.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(1 << 24));
    decoder.set_limits(decoder_limits).map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    let rgb = image.into_rgb8();
    let (width, height) = rgb.dimensions();
    Ok(RgbImage {
        width,
        height,
        pixels: rgb.into_raw(),
    })
}

/// `None` when the JPEG is of a kind that [`jpeg`] leaves to the `image` crate.
fn decode_jpeg(bytes: &[u8], limits: &ImageLimits) -> Result<Option<RgbImage>> {
    let refuse = |error: JpegError| match error {
        JpegError::Unsupported(_) => Ok(None),
        JpegError::Invalid(reason) => Err(FaceError::ImageDecode { reason }),
    };
    let info = match jpeg::read_info(bytes) {
        Ok(info) => info,
        Err(e) => return refuse(e),
    };
    check_dimensions(info.width, info.height, limits)?;
    let decoded = match jpeg::decode(bytes) {
        Ok(decoded) => decoded,
        Err(e) => return refuse(e),
    };
    let rgb = image::RgbImage::from_raw(decoded.width, decoded.height, decoded.pixels).ok_or_else(
        || FaceError::ImageDecode {
            reason: "decoded JPEG has the wrong size".into(),
        },
    )?;
    let mut image = DynamicImage::ImageRgb8(rgb);
    if let Some(orientation) = info
        .orientation
        .and_then(image::metadata::Orientation::from_exif)
    {
        image.apply_orientation(orientation);
    }
    let rgb = image.into_rgb8();
    let (width, height) = rgb.dimensions();
    Ok(Some(RgbImage {
        width,
        height,
        pixels: rgb.into_raw(),
    }))
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(FaceError::ImageTooManyPixels {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(FaceError::ImageTooSmall { width, height });
    }
    Ok(())
}

fn decode_error(error: image::ImageError) -> FaceError {
    match error {
        image::ImageError::Limits(_) => FaceError::ImageDecode {
            reason: "image exceeds the decoder's memory limit".into(),
        },
        other => FaceError::ImageDecode {
            reason: other.to_string(),
        },
    }
}

/// Width and height declared by the header of JPEG, PNG or WebP bytes, without decoding pixels
/// (before EXIF orientation), so a caller can budget memory before [`decode_image`].
pub fn image_dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
    let format = image::guess_format(bytes).map_err(|_| FaceError::ImageFormat)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(FaceError::ImageFormat);
    }
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(decode_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encode png");
        out
    }

    #[test]
    fn a_crop_keeps_its_pixels_and_is_clipped_to_the_image() {
        let image = RgbImage {
            width: 4,
            height: 3,
            pixels: (0..36).collect(),
        };
        let crop = image.crop(1, 1, 2, 5).expect("inside");
        assert_eq!((crop.width, crop.height), (2, 2));
        assert_eq!(crop.pixel(0, 0), image.pixel(1, 1));
        assert_eq!(crop.pixel(1, 1), image.pixel(2, 2));
        assert!(image.crop(4, 0, 2, 2).is_none());
        assert!(image.crop(0, 0, 0, 2).is_none());
    }

    #[test]
    fn empty_input_is_refused() {
        assert!(matches!(
            decode_image(&[], &ImageLimits::default()),
            Err(FaceError::ImageEmpty)
        ));
    }

    #[test]
    fn text_is_not_an_image() {
        let err = decode_image(b"hello, this is not a picture", &ImageLimits::default());
        assert!(matches!(err, Err(FaceError::ImageFormat)), "{err:?}");
    }

    #[test]
    fn one_pixel_image_is_too_small() {
        let err = decode_image(&png_bytes(1, 1), &ImageLimits::default());
        assert!(
            matches!(
                err,
                Err(FaceError::ImageTooSmall {
                    width: 1,
                    height: 1
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_png_is_an_error() {
        let bytes = png_bytes(64, 64);
        let err = decode_image(&bytes[..bytes.len() / 2], &ImageLimits::default());
        assert!(matches!(err, Err(FaceError::ImageDecode { .. })), "{err:?}");
    }

    #[test]
    fn huge_declared_canvas_is_refused_before_decoding() {
        // A valid PNG header declaring 30000x30000 followed by nothing: must fail on the limit,
        // not by trying to allocate 2.7 GB.
        let mut bytes = png_bytes(16, 16);
        bytes[16..20].copy_from_slice(&30000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&30000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_image(&bytes, &ImageLimits::default());
        assert!(
            matches!(
                err,
                Err(FaceError::ImageTooManyPixels {
                    width: 30000,
                    height: 30000,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    /// PNG's chunk checksum (CRC-32/ISO-HDLC), so a hand-edited header is still well formed.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn byte_limit_is_enforced() {
        let limits = ImageLimits {
            max_bytes: 10,
            max_pixels: 1 << 20,
        };
        assert!(matches!(
            decode_image(&png_bytes(16, 16), &limits),
            Err(FaceError::ImageTooLarge { .. })
        ));
    }

    #[test]
    fn dimensions_come_from_the_header_alone() {
        let mut bytes = png_bytes(16, 16);
        assert_eq!(image_dimensions(&bytes).expect("dimensions"), (16, 16));
        // A header declaring a huge canvas with no pixel data behind it still answers.
        bytes[16..20].copy_from_slice(&30000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(image_dimensions(&bytes).expect("dimensions").0, 30000);
        assert!(image_dimensions(b"text").is_err());
    }

    #[test]
    fn jpeg_written_by_the_image_crate_decodes_close_to_its_source() {
        let img = image::RgbImage::from_fn(40, 24, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 10) as u8, 200])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .expect("encode jpeg");
        let decoded = decode_image(&out, &ImageLimits::default()).expect("decode");
        assert_eq!((decoded.width, decoded.height), (40, 24));
        let worst = decoded
            .pixels
            .iter()
            .zip(img.as_raw())
            .map(|(&a, &b)| a.abs_diff(b))
            .max();
        assert!(worst.is_some_and(|w| w <= 12), "{worst:?}");
    }

    #[test]
    fn truncated_jpeg_is_an_error_not_grey() {
        let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8, 9]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .expect("encode jpeg");
        let err = decode_image(&out[..out.len() / 2], &ImageLimits::default());
        assert!(matches!(err, Err(FaceError::ImageDecode { .. })), "{err:?}");
    }

    #[test]
    fn png_round_trips_pixels() {
        let img = decode_image(&png_bytes(20, 10), &ImageLimits::default()).expect("decode");
        assert_eq!((img.width, img.height), (20, 10));
        assert_eq!(img.pixel(5, 3), [5, 3, 7]);
    }
}
