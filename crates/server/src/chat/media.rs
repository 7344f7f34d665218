//! What the server does to an uploaded file before anyone else gets it: names made safe for a
//! download header, and images decoded and encoded again.
//!
//! Re-encoding is what strips an image's metadata (EXIF with its GPS position, XMP, comments,
//! ICC profiles): the encoders here write pixels only. It also means that what a browser renders
//! inline is always a plain JPEG or PNG that the server made, never bytes chosen by the sender.
//! Decoding is bounded before it starts: the pixel count comes from the header and is checked
//! against the limit, then taken from the server's [`PixelBudget`].
//!
//! ```
//! use server::chat::media::{content_disposition, sanitise_name};
//!
//! assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
//! assert_eq!(
//!     content_disposition(false, "résumé.pdf"),
//!     "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
//! );
//! ```

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::pool::PixelBudget;

use super::domain::ChatError;

/// Longest file name kept, in characters (the extension survives a cut).
pub const MAX_NAME_CHARS: usize = 120;
/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// JPEG quality of re-encoded photos: visually lossless, a fraction of a camera's file.
const JPEG_QUALITY: u8 = 85;
/// Thumbnails are small on screen; a lower quality is not seen.
const THUMB_QUALITY: u8 = 80;

/// An image as the server stores it: the re-encoded picture, its thumbnail and what to call them.
pub struct Reencoded {
    pub main: Vec<u8>,
    pub thumb: Vec<u8>,
    /// `image/jpeg` or `image/png`, for both `main` and `thumb`.
    pub content_type: &'static str,
    /// Upright size (after the EXIF orientation was applied).
    pub width: u32,
    pub height: u32,
}

/// The image formats decoded and re-encoded; anything else is kept as a plain file.
pub fn image_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP))
}

/// Decodes `bytes` (of `format`, see [`image_format`]) once the header's pixel count is within
/// `max_pixels` and fits in `budget`, applies the EXIF orientation, and encodes the picture and
/// a thumbnail again with no metadata at all. Blocking: call it on the blocking pool.
pub fn reencode(
    bytes: &[u8],
    format: ImageFormat,
    max_pixels: u64,
    budget: &PixelBudget,
) -> Result<Reencoded, ChatError> {
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(ChatError::ImageTooLarge {
            pixels,
            limit: max_pixels,
        });
    }
    if pixels == 0 {
        return Err(ChatError::ImageInvalid("it has no pixels.".into()));
    }
    let _permit = budget.acquire(pixels).ok_or(ChatError::Busy)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // The decoded buffer in its widest pixel type (16-bit RGBA) plus decoder scratch.
    limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(1 << 24));
    decoder.set_limits(limits).map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    // A photo stays a JPEG; a PNG (screenshots, drawings) stays lossless; so does anything
    // transparent, which JPEG cannot hold.
    let lossless = format == ImageFormat::Png || image.color().has_alpha();
    let thumb_image = if image.width() > THUMB_SIDE || image.height() > THUMB_SIDE {
        image.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        image.clone()
    };
    let (main, thumb, content_type) = if lossless {
        (png(&image)?, png(&thumb_image)?, "image/png")
    } else {
        (
            jpeg(&image, JPEG_QUALITY)?,
            jpeg(&thumb_image, THUMB_QUALITY)?,
            "image/jpeg",
        )
    };
    Ok(Reencoded {
        main,
        thumb,
        content_type,
        width: image.width(),
        height: image.height(),
    })
}

fn jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, ChatError> {
    let mut out = Vec::new();
    let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
        .map_err(encode_failed)?;
    Ok(out)
}

fn png(image: &DynamicImage) -> Result<Vec<u8>, ChatError> {
    let mut out = Vec::new();
    let eight_bit = if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    // Fast compression: a large screenshot must not hold a pool worker for seconds.
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    eight_bit
        .write_with_encoder(encoder)
        .map_err(encode_failed)?;
    Ok(out)
}

fn unreadable(error: image::ImageError) -> ChatError {
    match error {
        image::ImageError::Limits(_) => {
            ChatError::ImageInvalid("it needs more memory than the server allows.".into())
        }
        other => ChatError::ImageInvalid(format!("{other}.")),
    }
}

fn encode_failed(error: image::ImageError) -> ChatError {
    ChatError::Internal(format!("encoding an attachment: {error}").into())
}

/// A file name safe to store and to send back in a header: the last path component only, no
/// control, bidirectional or invisible characters, none of `"<>:*?|\/`, no leading dots (no
/// hidden files, no `..`), at most [`MAX_NAME_CHARS`] characters keeping the extension; `file`
/// when nothing is left.
pub fn sanitise_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = crate::text::neutralise(last)
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '*' | '?' | '|'))
        .collect();
    let name = cleaned.trim().trim_start_matches('.').trim();
    if name.is_empty() {
        return "file".into();
    }
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.chars().count() <= 10 => (stem, ext),
        _ => (name, ""),
    };
    let keep = MAX_NAME_CHARS - ext.chars().count() - usize::from(!ext.is_empty());
    let stem: String = stem.chars().take(keep).collect();
    if ext.is_empty() {
        stem
    } else {
        format!("{stem}.{ext}")
    }
}

/// The `Content-Disposition` of an attachment: `inline` only for images the server re-encoded,
/// `attachment` (a download) for everything else; the name in plain ASCII for old clients and
/// exactly, percent-encoded as UTF-8, in `filename*` (RFC 6266, RFC 8187).
pub fn content_disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-()[]+,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// RFC 8187 `value-chars`: `attr-char` as is, every other byte as `%XX`.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn budget() -> PixelBudget {
        PixelBudget::new(10_000_000, Duration::from_millis(100))
    }

    fn encoded(format: ImageFormat, image: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    #[test]
    fn names_lose_paths_controls_and_hidden_characters() {
        assert_eq!(sanitise_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(sanitise_name("a\u{202e}fdp.exe"), "afdp.exe");
        assert_eq!(sanitise_name("\"quoted\"\r\n.txt"), "quoted.txt");
        assert_eq!(sanitise_name(".."), "file");
        assert_eq!(sanitise_name(".bashrc"), "bashrc");
        assert_eq!(sanitise_name(""), "file");
        let long = format!("{}.jpeg", "é".repeat(300));
        let cut = sanitise_name(&long);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with(".jpeg"), "{cut}");
    }

    #[test]
    fn disposition_quotes_nothing_a_header_could_break_on() {
        let header = content_disposition(false, "a b;c=\"d\".txt");
        assert_eq!(
            header,
            "attachment; filename=\"a b_c__d_.txt\"; filename*=UTF-8''a%20b%3Bc%3D%22d%22.txt"
        );
        assert!(content_disposition(true, "x.png").starts_with("inline; "));
    }

    #[test]
    fn only_jpeg_png_and_webp_are_images() {
        let png = encoded(ImageFormat::Png, DynamicImage::new_rgb8(10, 10));
        assert_eq!(image_format(&png), Some(ImageFormat::Png));
        assert_eq!(image_format(b"GIF89a...."), None);
        assert_eq!(image_format(b"%PDF-1.7"), None);
    }

    #[test]
    fn a_large_photo_is_reencoded_as_jpeg_with_a_320_px_thumbnail() {
        let photo = encoded(ImageFormat::Jpeg, DynamicImage::new_rgb8(1000, 500));
        let out = reencode(&photo, ImageFormat::Jpeg, 1_000_000, &budget()).expect("reencode");
        assert_eq!(
            (out.width, out.height, out.content_type),
            (1000, 500, "image/jpeg")
        );
        let thumb = image::load_from_memory(&out.thumb).expect("thumb decodes");
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    #[test]
    fn transparency_stays_png_and_small_images_are_not_enlarged() {
        let icon = encoded(ImageFormat::Png, DynamicImage::new_rgba8(40, 30));
        let out = reencode(&icon, ImageFormat::Png, 1_000_000, &budget()).expect("reencode");
        assert_eq!(out.content_type, "image/png");
        let thumb = image::load_from_memory(&out.thumb).expect("thumb decodes");
        assert_eq!((thumb.width(), thumb.height()), (40, 30));
        assert!(thumb.color().has_alpha());
    }

    #[test]
    fn pixels_over_the_limit_are_refused_before_decoding() {
        let big = encoded(ImageFormat::Png, DynamicImage::new_rgb8(200, 100));
        let err = reencode(&big, ImageFormat::Png, 19_999, &budget()).err();
        assert_eq!(
            err,
            Some(ChatError::ImageTooLarge {
                pixels: 20_000,
                limit: 19_999
            })
        );
    }

    #[test]
    fn a_truncated_image_is_invalid_not_a_crash() {
        let photo = encoded(ImageFormat::Png, DynamicImage::new_rgb8(100, 100));
        let err = reencode(
            &photo[..photo.len() / 3],
            ImageFormat::Png,
            1_000_000,
            &budget(),
        );
        assert!(
            matches!(err, Err(ChatError::ImageInvalid(_))),
            "{:?}",
            err.err()
        );
    }
}
