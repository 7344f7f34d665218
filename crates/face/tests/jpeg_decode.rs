//! JPEG decoding gives libjpeg-turbo's pixels (what browsers show) on small fixtures of every
//! sampling mode, progressive and sequential, with restart intervals, odd sizes, grey, RGB,
//! 16-bit quantisation tables and an EXIF rotation; and a truncated or corrupt JPEG is refused
//! rather than decoded into grey.
//!
//! The fixtures and the expected SHA-256 of libjpeg-turbo's pixels come from
//! `tools/reference/jpeg_fixtures.py`.

use std::path::{Path, PathBuf};

use face::{decode_image, FaceError, ImageLimits};
use sha2::{Digest, Sha256};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jpeg")
}

/// `(file name, width, height, sha256)` of each line of `expected.txt`.
fn expected() -> Vec<(String, u32, u32, String)> {
    let path = data_dir().join("expected.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [digest, size, name] = fields[..] else {
                panic!("bad line in expected.txt: {line}");
            };
            let (w, h) = size.split_once('x').expect("WIDTHxHEIGHT");
            (
                name.to_owned(),
                w.parse().expect("width"),
                h.parse().expect("height"),
                digest.to_owned(),
            )
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let list = expected();
    assert!(
        list.len() >= 19,
        "expected.txt lists {} fixtures",
        list.len()
    );
    list.into_iter()
        .map(|(name, ..)| {
            let bytes = fixture(&name);
            (name, bytes)
        })
        .collect()
}

#[test]
fn every_fixture_decodes_to_libjpeg_turbo_pixels() {
    let list = expected();
    let mut on_disk: Vec<String> = std::fs::read_dir(data_dir())
        .expect("tests/data/jpeg")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = list.iter().map(|(n, ..)| n.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every fixture needs an expected hash");
    let mut report = Vec::new();
    for (name, width, height, digest) in &list {
        let image = decode_image(&fixture(name), &ImageLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = hex::encode(Sha256::digest(&image.pixels));
        if (image.width, image.height, &actual) != (*width, *height, digest) {
            report.push(format!(
                "{name}: {}x{} {actual}, libjpeg-turbo {width}x{height} {digest}",
                image.width, image.height
            ));
        }
    }
    assert!(
        report.is_empty(),
        "pixels differ from libjpeg-turbo's:\n{}",
        report.join("\n")
    );
}

fn assert_refused(name: &str, what: &str, bytes: &[u8]) {
    match decode_image(bytes, &ImageLimits::default()) {
        Err(FaceError::ImageDecode { .. }) => {}
        Err(other) => panic!("{name} {what}: wrong error {other:?}"),
        Ok(image) => panic!("{name} {what}: decoded into {image:?} instead of an error"),
    }
}

#[test]
fn truncated_jpegs_are_refused_not_decoded_into_grey() {
    for (name, bytes) in fixtures() {
        let n = bytes.len();
        for cut in (1..8).map(|k| n * k / 8).chain([n - 2, n - 1]) {
            assert_refused(&name, &format!("cut to {cut} of {n} bytes"), &bytes[..cut]);
        }
    }
}

/// Where the entropy-coded data of the first scan starts and ends.
fn first_scan_data(bytes: &[u8]) -> (usize, usize) {
    let mut i = 2;
    while bytes[i + 1] != 0xDA {
        i += 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
    }
    let start = i + 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
    let mut end = start;
    while !(bytes[end] == 0xFF && bytes[end + 1] != 0 && !(0xD0..=0xD7).contains(&bytes[end + 1])) {
        end += 1;
    }
    (start, end)
}

#[test]
fn corrupt_entropy_data_is_refused() {
    for (name, bytes) in fixtures() {
        let (start, end) = first_scan_data(&bytes);
        assert!(
            end - start > 40,
            "{name}: first scan is only {} bytes",
            end - start
        );
        // A run of one-bits (stuffed 0xFF bytes) holds no valid Huffman code: the all-ones
        // code is reserved.
        let mut ones = bytes.clone();
        let middle = ((start + end) / 2) & !1;
        for pair in ones[middle..middle + 24].chunks_exact_mut(2) {
            pair.copy_from_slice(&[0xFF, 0x00]);
        }
        assert_refused(&name, "with a run of one-bits", &ones);
        // A marker in the middle of the data cuts the scan short.
        let mut cut = bytes.clone();
        cut[middle..middle + 2].copy_from_slice(&[0xFF, 0xD9]);
        assert_refused(&name, "with an EOI in the middle of a scan", &cut);
    }
}

#[test]
fn a_missing_restart_marker_is_refused() {
    let bytes = fixture("pillow_422_restart_blocks.jpg");
    let (start, end) = first_scan_data(&bytes);
    let rst = (start..end)
        .find(|&i| bytes[i] == 0xFF && (0xD0..=0xD7).contains(&bytes[i + 1]))
        .expect("a restart marker");
    let mut renumbered = bytes.clone();
    renumbered[rst + 1] = 0xD5;
    assert_refused(
        "pillow_422_restart_blocks.jpg",
        "with RST5 for RST0",
        &renumbered,
    );
}

#[test]
fn jpeg_size_limits_are_checked_before_decoding() {
    let bytes = fixture("pillow_444.jpg");
    let limits = ImageLimits {
        max_bytes: 1 << 20,
        max_pixels: 67 * 45 - 1,
    };
    let err = decode_image(&bytes, &limits);
    assert!(
        matches!(
            err,
            Err(FaceError::ImageTooManyPixels {
                width: 67,
                height: 45,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn mutated_jpegs_give_a_result_or_an_error_never_a_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut decoded, mut refused) = (0, 0);
    for (name, bytes) in fixtures() {
        for round in 0..150 {
            let mut mutated = bytes.clone();
            // Headers (first bytes) and entropy data alike: a few random bytes changed.
            for _ in 0..1 + round % 4 {
                let at = if round % 3 == 0 {
                    (next() as usize) % mutated.len().min(700)
                } else {
                    (next() as usize) % mutated.len()
                };
                mutated[at] = next() as u8;
            }
            let result =
                std::panic::catch_unwind(|| decode_image(&mutated, &ImageLimits::default()));
            match result {
                Ok(Ok(_)) => decoded += 1,
                Ok(Err(_)) => refused += 1,
                Err(_) => panic!("{name}: round {round} panicked"),
            }
        }
    }
    eprintln!("mutated files: {decoded} decoded, {refused} refused");
    assert!(refused > 0 && decoded > 0);
}
