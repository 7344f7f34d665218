// Fake webcam videos for Chromium (--use-file-for-fake-video-capture): a still photo from
// ../shared/faces turned into a short YUV4MPEG2 (4:2:0) clip. JPEG decoding is done by the face
// crate's dump_ppm example, so the pixels are exactly what the server's engine would see.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, openSync, writeSync, closeSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { REPO, FACES, CACHE } from './paths.mjs';

const WIDTH = 640;
const HEIGHT = 480;

function readPpm(file) {
  const buf = readFileSync(file);
  // Header: "P6\n<w> <h>\n255\n" (dump_ppm writes exactly this form).
  let offset = 0;
  const tokens = [];
  while (tokens.length < 4) {
    while (/\s/.test(String.fromCharCode(buf[offset]))) offset += 1;
    let start = offset;
    while (!/\s/.test(String.fromCharCode(buf[offset]))) offset += 1;
    tokens.push(buf.subarray(start, offset).toString('ascii'));
  }
  offset += 1; // the single whitespace after maxval
  const [magic, w, h, max] = tokens;
  if (magic !== 'P6' || max !== '255') throw new Error(`${file}: not an 8-bit binary PPM`);
  return { width: Number(w), height: Number(h), pixels: buf.subarray(offset) };
}

/** Decodes photos with the engine's own decoder; returns the PPM path of each. */
export function decodePhotos(names) {
  const outDir = path.join(CACHE, 'ppm');
  mkdirSync(outDir, { recursive: true });
  const missing = names.filter((n) => !existsSync(path.join(outDir, `${n}.ppm`)));
  if (missing.length) {
    // Test files may run in parallel processes: decode into a private folder, then rename
    // (atomic) into the shared cache.
    const scratch = mkdtempSync(path.join(CACHE, 'decode-'));
    execFileSync('cargo', ['run', '--release', '--quiet', '-p', 'facegate-face', '--example', 'dump_ppm', '--',
      scratch, ...missing.map((n) => path.join(FACES, `${n}.jpg`))], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    for (const n of missing) renameSync(path.join(scratch, `${n}.ppm`), path.join(outDir, `${n}.ppm`));
    rmSync(scratch, { recursive: true, force: true });
  }
  return Object.fromEntries(names.map((n) => [n, path.join(outDir, `${n}.ppm`)]));
}

/**
 * Samples the 4:3 window of the photo that starts at `top` (fraction of the height), is `zoom`
 * times the photo's width wide and is centred on `cx` (fraction of the width); scales it to
 * 640x480 with box filtering.
 */
function frameRgb(img, { zoom = 1, cx = 0.5, top = 0 }) {
  const cropW = img.width * zoom;
  const cropH = (cropW * HEIGHT) / WIDTH;
  const x0 = img.width * cx - cropW / 2;
  const y0 = img.height * top;
  const out = new Float32Array(WIDTH * HEIGHT * 3);
  const sx = cropW / WIDTH;
  const sy = cropH / HEIGHT;
  for (let y = 0; y < HEIGHT; y += 1) {
    const ya = y0 + y * sy;
    const yb = Math.max(ya + 1, y0 + (y + 1) * sy);
    for (let x = 0; x < WIDTH; x += 1) {
      const xa = x0 + x * sx;
      const xb = Math.max(xa + 1, x0 + (x + 1) * sx);
      // Box filter over the source pixels under this output pixel; outside the photo is grey.
      let r = 0; let g = 0; let b = 0; let n = 0;
      for (let py = Math.floor(ya); py < Math.ceil(yb); py += 1) {
        for (let px = Math.floor(xa); px < Math.ceil(xb); px += 1) {
          if (py < 0 || px < 0 || py >= img.height || px >= img.width) {
            r += 128; g += 128; b += 128;
          } else {
            const i = (py * img.width + px) * 3;
            r += img.pixels[i]; g += img.pixels[i + 1]; b += img.pixels[i + 2];
          }
          n += 1;
        }
      }
      const o = (y * WIDTH + x) * 3;
      out[o] = r / n; out[o + 1] = g / n; out[o + 2] = b / n;
    }
  }
  return out;
}

/** BT.601 full-range RGB -> planar YUV 4:2:0 (the layout of a C420jpeg frame). */
function toI420(rgb) {
  const yPlane = Buffer.alloc(WIDTH * HEIGHT);
  const uPlane = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2));
  const vPlane = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2));
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
  for (let i = 0; i < WIDTH * HEIGHT; i += 1) {
    yPlane[i] = clamp(0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]);
  }
  for (let y = 0; y < HEIGHT / 2; y += 1) {
    for (let x = 0; x < WIDTH / 2; x += 1) {
      let r = 0; let g = 0; let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = ((2 * y + dy) * WIDTH + 2 * x + dx) * 3;
        r += rgb[i]; g += rgb[i + 1]; b += rgb[i + 2];
      }
      r /= 4; g /= 4; b /= 4;
      const o = y * (WIDTH / 2) + x;
      uPlane[o] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      vPlane[o] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  return Buffer.concat([yPlane, uPlane, vPlane]);
}

/**
 * Writes (once) a y4m clip of `frames` identical frames of the photo `name` at `fps`, and
 * returns its path. `crop` picks the window of the photo the "camera" sees.
 */
export function fakeCamera(name, crop = {}, { frames = 10, fps = 5 } = {}) {
  const key = `v1-${name}-${crop.zoom ?? 1}-${crop.cx ?? 0.5}-${crop.top ?? 0}-${frames}-${fps}`;
  const out = path.join(CACHE, `${key}.y4m`);
  if (existsSync(out)) return out;
  const ppm = decodePhotos([name])[name];
  const yuv = toI420(frameRgb(readPpm(ppm), crop));
  const tmp = `${out}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  writeSync(fd, `YUV4MPEG2 W${WIDTH} H${HEIGHT} F${fps}:1 Ip A1:1 C420jpeg\n`);
  for (let i = 0; i < frames; i += 1) {
    writeSync(fd, 'FRAME\n');
    writeSync(fd, yuv);
  }
  closeSync(fd);
  renameSync(tmp, out);
  return out;
}

/** Camera views of the photos the tests use: the face fills a webcam-like share of the frame. */
export const CAMERAS = {
  obama_1: ['obama_1', { zoom: 0.8, cx: 0.5, top: 0 }],
  obama_2: ['obama_2', { zoom: 1.3, cx: 0.5, top: 0.08 }],
  biden_2: ['biden_2', { zoom: 0.85, cx: 0.53, top: 0 }],
  // Two people side by side, both well sized.
  group: ['group_obama_biden', { zoom: 0.45, cx: 0.51, top: 0.12 }],
  // Obama far from the camera: his face is a small part of the frame.
  far: ['obama_1', { zoom: 3, cx: 0.5, top: -0.6 }],
};

export function camera(name) {
  const [photo, crop] = CAMERAS[name];
  return fakeCamera(photo, crop);
}
