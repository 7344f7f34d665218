#!/usr/bin/env python3
"""JPEG fixtures and libjpeg-turbo's decoded pixels, for crates/face/tests/jpeg_decode.rs and
jpeg_parity.rs.

    pip install pillow numpy          # Pillow's wheels bundle libjpeg-turbo
    apt-get install libjpeg-turbo-progs   # cjpeg, for the modes Pillow cannot write
    python3 tools/reference/jpeg_fixtures.py [--photos-only]

Writes into crates/face/tests/data/jpeg/:

* small synthetic JPEGs of every sampling mode, progressive, restart intervals, odd sizes,
  grey, RGB (Adobe transform 0), 16-bit quantisation tables and an EXIF rotation (skipped with
  --photos-only);
* expected.txt: for each fixture, the SHA-256 of the RGB pixels that libjpeg-turbo gives
  (Pillow's `Image.open(f).convert('RGB')`: no draft(), so the accurate integer IDCT and fancy
  upsampling, libjpeg's defaults and what browsers use), after the EXIF orientation;
* photos.txt: the same for models/sample*.jpg and every JPEG in ../shared/faces.

Run from anywhere; FACEGATE_MODELS and FACEGATE_SHARED_FACES override the photo folders.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, features

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT = REPO / "crates/face/tests/data/jpeg"

ORIENTATION = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def oracle(path):
    """libjpeg-turbo's pixels, EXIF-oriented, as (width, height, sha256)."""
    image = Image.open(path)
    orientation = image.getexif().get(0x0112, 1)
    rgb = image.convert("RGB")
    for op in ORIENTATION.get(orientation, []):
        rgb = rgb.transpose(op)
    pixels = np.asarray(rgb, dtype=np.uint8)
    return rgb.width, rgb.height, hashlib.sha256(pixels.tobytes()).hexdigest()


def picture(width, height, seed):
    """Smooth gradients, hard edges, saturated colours and noise: every stage gets work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 120 * np.sin(x / 7.0) * np.cos(y / 11.0)
    g = 255 * (x / max(width - 1, 1))
    b = np.where((x // 9 + y // 7) % 2 == 0, 250.0, 5.0)
    img = np.stack([r, g, b], axis=-1)
    img[height // 3 : height // 2, :, :] = [255, 0, 0]
    img[:, width // 2 : width // 2 + 3, :] = [0, 0, 255]
    img += rng.normal(0, 18, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def cjpeg(source, target, *args):
    with tempfile.NamedTemporaryFile(suffix=".ppm") as ppm:
        source.save(ppm.name)
        subprocess.run(["cjpeg", *args, "-outfile", str(target), ppm.name], check=True)


def make_fixtures():
    pic = picture(67, 45, 1)
    odd = picture(69, 47, 2)
    tall = picture(37, 53, 3)
    fixtures = {
        "pillow_444.jpg": lambda p: pic.save(p, quality=90, subsampling="4:4:4"),
        "pillow_422.jpg": lambda p: pic.save(p, quality=85, subsampling="4:2:2"),
        "pillow_420_odd.jpg": lambda p: odd.save(p, quality=75, subsampling="4:2:0"),
        "pillow_420_progressive.jpg": lambda p: odd.save(
            p, quality=80, subsampling="4:2:0", progressive=True
        ),
        "pillow_444_progressive_optimized.jpg": lambda p: tall.save(
            p, quality=92, subsampling="4:4:4", progressive=True, optimize=True
        ),
        "pillow_422_restart_blocks.jpg": lambda p: pic.save(
            p, quality=85, subsampling="4:2:2", restart_marker_blocks=3
        ),
        "pillow_420_progressive_restart_rows.jpg": lambda p: odd.save(
            p, quality=85, subsampling="4:2:0", progressive=True, restart_marker_rows=1
        ),
        "pillow_420_quality100.jpg": lambda p: odd.save(p, quality=100, subsampling="4:2:0"),
        "pillow_gray.jpg": lambda p: tall.convert("L").save(p, quality=85),
        "pillow_gray_progressive.jpg": lambda p: pic.convert("L").save(
            p, quality=85, progressive=True
        ),
        "pillow_420_exif_rotated.jpg": lambda p: save_rotated(tall, p),
        "pillow_minimum_size_420.jpg": lambda p: picture(8, 9, 4).save(
            p, quality=90, subsampling="4:2:0"
        ),
        "cjpeg_440.jpg": lambda p: cjpeg(odd, p, "-quality", "85", "-sample", "1x2,1x1,1x1"),
        "cjpeg_411.jpg": lambda p: cjpeg(odd, p, "-quality", "85", "-sample", "4x1,1x1,1x1"),
        "cjpeg_mixed_sampling.jpg": lambda p: cjpeg(
            odd, p, "-quality", "85", "-sample", "2x2,1x2,1x1"
        ),
        "cjpeg_440_progressive_restart.jpg": lambda p: cjpeg(
            tall, p, "-quality", "80", "-sample", "1x2,1x1,1x1", "-progressive", "-restart", "2B"
        ),
        "cjpeg_rgb.jpg": lambda p: cjpeg(pic, p, "-quality", "90", "-rgb"),
        "cjpeg_16bit_quant_tables.jpg": lambda p: cjpeg(pic, p, "-quality", "1"),
        "cjpeg_non_interleaved_sequential.jpg": lambda p: cjpeg_scans(
            odd, p, "0;\n1;\n2;\n"
        ),
    }
    for name, make in fixtures.items():
        make(OUT / name)
        size = (OUT / name).stat().st_size
        assert size < 50_000, f"{name} is {size} bytes"
    return sorted(fixtures)


def save_rotated(image, path):
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, quality=85, subsampling="4:2:0", exif=exif.tobytes())


def cjpeg_scans(image, path, script):
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as scans:
        scans.write(script)
        scans.flush()
        cjpeg(image, path, "-quality", "85", "-sample", "2x2,1x1,1x1", "-scans", scans.name)


def photos():
    models = Path(os.environ.get("FACEGATE_MODELS", REPO / "models"))
    faces = Path(os.environ.get("FACEGATE_SHARED_FACES", REPO.parent / "shared/faces"))
    found = sorted(models.glob("sample*.jpg")) + sorted(faces.glob("*.jpg"))
    if len(found) < 7:
        sys.exit(f"photos missing: {models}/sample*.jpg or {faces}/*.jpg")
    return found


def write_list(path, files, header):
    with open(path, "w") as out:
        out.write(header)
        for f in files:
            width, height, digest = oracle(f)
            out.write(f"{digest} {width}x{height} {Path(f).name}\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    version = features.version_feature("libjpeg_turbo")
    header = (
        f"# SHA-256 of the RGB pixels libjpeg-turbo {version} decodes (via Pillow "
        f"{Image.__version__}), EXIF-oriented. Made by tools/reference/jpeg_fixtures.py.\n"
    )
    if "--photos-only" not in sys.argv:
        names = make_fixtures()
        write_list(OUT / "expected.txt", [OUT / n for n in names], header)
    write_list(OUT / "photos.txt", photos(), header)


if __name__ == "__main__":
    main()
