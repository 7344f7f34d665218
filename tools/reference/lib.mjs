// Shared helpers of the reference scripts: loading face-api.js without tfjs-node, reading the
// engine's PPM dumps into tensors, and compact number formatting for the golden files.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');

// The node-wasm bundle requires only @tensorflow/tfjs (which brings the CPU backend) and
// @tensorflow/tfjs-backend-wasm, so it runs without tfjs-node's native binary.
export const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
export const tf = faceapi.tf;

export const LIBRARY = `@vladmandic/face-api@${faceapi.version}`;
export const TFJS = tf.version_core;

/** Value of `--name VALUE` on the command line, else `fallback`. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

export function modelsDir() {
  return path.resolve(arg('models', process.env.FACEGATE_MODELS || path.join(REPO, 'models')));
}

export async function setBackend(name) {
  if (name === 'wasm') {
    // Node resolves the .wasm binaries next to the backend's own bundle.
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    tf.setWasmPaths(`${wasmDir}${path.sep}`);
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} failed to initialise`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`asked for backend ${name}, got ${tf.getBackend()}`);
}

export async function loadNets(dir, names) {
  if (!fs.existsSync(path.join(dir, 'tiny_face_detector_model-weights_manifest.json'))) {
    throw new Error(`no face-api models in ${dir}: run \`facegate models fetch\` first (or pass --models DIR)`);
  }
  for (const name of names) await faceapi.nets[name].loadFromDisk(dir);
}

/** A binary P6 PPM (maxval 255) as { width, height, pixels: Uint8Array (RGB) }. */
export function readPpm(file) {
  const buf = fs.readFileSync(file);
  const fields = [];
  let pos = 0;
  while (fields.length < 4) {
    while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos += 1;
    if (buf[pos] === 0x23) { // '#' comment to end of line
      while (pos < buf.length && buf[pos] !== 0x0a) pos += 1;
      continue;
    }
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos]))) pos += 1;
    fields.push(buf.toString('latin1', start, pos));
  }
  pos += 1; // the single whitespace byte after maxval
  const [magic, w, h, max] = fields;
  const width = Number(w);
  const height = Number(h);
  if (magic !== 'P6' || Number(max) !== 255) throw new Error(`${file}: not a P6 PPM with maxval 255`);
  const pixels = new Uint8Array(buf.buffer, buf.byteOffset + pos, width * height * 3);
  if (pixels.length !== width * height * 3) throw new Error(`${file}: truncated`);
  return { width, height, pixels };
}

/** The image as an int32 [H, W, 3] tensor, the dtype tf.node.decodeImage gives. */
export function ppmTensor(ppm) {
  return tf.tensor3d(Int32Array.from(ppm.pixels), [ppm.height, ppm.width, 3], 'int32');
}

/** float32 values as little-endian bytes in base64: exact and about 5.3 bytes per value. */
export function f32Base64(values) {
  const f = Float32Array.from(values);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

/** A float32 value printed with 9 significant digits, which round-trips exactly. */
export const f32 = (v) => Number(Number(v).toPrecision(9));

/** A pixel coordinate rounded to 1e-6 px (the tests allow 0.05 px). */
export const px = (v) => Math.round(v * 1e6) / 1e6;

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
