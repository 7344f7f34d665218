// Writes the golden outputs of @vladmandic/face-api 1.7.15 (tfjs CPU backend) that the face
// engine's parity tests compare against. Run through ./regenerate.sh, which first dumps the
// engine's own decoded pixels as PPMs, so both sides analyse exactly the same RGB values.
//
//   node golden.mjs --ppm DIR --out DIR [--models DIR] [--backend cpu] IMAGE...
//
// For every IMAGE (its PPM is DIR/<stem>.ppm) it writes <out>/<stem>.json with, per detector
// (tiny@416 and SSD), every face of detectAllFaces().withFaceLandmarks().withFaceDescriptors()
// .withFaceExpressions(), and the same with tiny@416 and withFaceLandmarks(true). It also writes <out>/nets.json: raw network outputs on fixed inputs
// taken from sample1.jpg, for per-network checks.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  arg, f32, f32Base64, faceapi, LIBRARY, loadNets, modelsDir, ppmTensor, px, readPpm, setBackend, tf, TFJS,
} from './lib.mjs';

const TINY = { inputSize: 416, scoreThreshold: 0.5 };
const SSD = { minConfidence: 0.5, maxResults: 100 };

// Fixed inputs of nets.json. The crop is sample1's left face, deliberately non-square (odd
// height/width difference) so the centered padding's odd pixel is exercised.
const NETS_IMAGE = 'sample1';
const NETS_CROP = { x: 414, y: 355, width: 177, height: 240 };
const NETS_TINY_SIZE = 416;

const box4 = (b) => [b.x, b.y, b.width, b.height];

function faceJson(r) {
  const dlib = r.landmarks.align(null, { useDlibAlignment: true });
  return {
    box: box4(r.detection.box),
    score: r.detection.score,
    landmarks: r.landmarks.positions.flatMap((p) => [px(p.x), px(p.y)]),
    aligned_rect: box4(r.alignedRect.box).map(px),
    dlib_rect: box4(dlib),
    descriptor: Array.from(r.descriptor, f32),
    expressions: faceapi.FACE_EXPRESSION_LABELS.map((label) => f32(r.expressions[label])),
  };
}

async function pipeline(tensor, options, tinyLandmarks = false) {
  const results = await faceapi
    .detectAllFaces(tensor, options)
    .withFaceLandmarks(tinyLandmarks)
    .withFaceDescriptors()
    .withFaceExpressions();
  return results.map(faceJson);
}

function header(backend) {
  return {
    generator: 'tools/reference/golden.mjs',
    library: LIBRARY,
    tfjs: TFJS,
    backend,
  };
}

async function imageGolden(imagePath, ppmDir, backend) {
  const stem = path.parse(imagePath).name;
  const ppm = readPpm(path.join(ppmDir, `${stem}.ppm`));
  const tensor = ppmTensor(ppm);
  const tiny = await pipeline(tensor, new faceapi.TinyFaceDetectorOptions(TINY));
  const ssd = await pipeline(tensor, new faceapi.SsdMobilenetv1Options(SSD));
  const tinyTiny = await pipeline(tensor, new faceapi.TinyFaceDetectorOptions(TINY), true);
  tensor.dispose();
  return {
    ...header(backend),
    image: path.basename(imagePath),
    width: ppm.width,
    height: ppm.height,
    // The engine's decoded RGB bytes; a mismatch means the decoder changed, not the networks.
    pixels_sha256: crypto.createHash('sha256').update(ppm.pixels).digest('hex'),
    detectors: {
      tiny: { options: TINY, faces: tiny },
      ssd: { options: SSD, faces: ssd },
      // withFaceLandmarks(true): FaceLandmark68TinyNet.
      tiny_with_tiny_landmarks: { options: { ...TINY, tinyLandmarks: true }, faces: tinyTiny },
    },
  };
}

async function rawOutputs(ppmDir, backend) {
  const ppm = readPpm(path.join(ppmDir, `${NETS_IMAGE}.ppm`));
  const image = ppmTensor(ppm);
  const c = NETS_CROP;
  const crop = tf.slice3d(image, [c.y, c.x, 0], [c.height, c.width, 3]);
  const nets = faceapi.nets;
  const input = await faceapi.toNetInput(crop);
  const read = (t) => Array.from(t.dataSync());

  const landmarks = read(nets.faceLandmark68Net.runNet(input));
  const landmarksTiny = read(nets.faceLandmark68TinyNet.runNet(input));
  const descriptor = read(nets.faceRecognitionNet.forwardInput(input));
  const exprLogits = read(nets.faceExpressionNet.runNet(input));
  const exprProbs = read(nets.faceExpressionNet.forwardInput(input));
  const ag = nets.ageGenderNet.forwardInput(input);
  const ageGender = { age: read(ag.age)[0], gender_probs: read(ag.gender).map(f32) };

  const full = await faceapi.toNetInput(image);
  const tinyOut = nets.tinyFaceDetector.forwardInput(full, NETS_TINY_SIZE);
  const ssdOut = nets.ssdMobilenetv1.forwardInput(full);
  const result = {
    ...header(backend),
    image: `${NETS_IMAGE}.jpg`,
    crop: NETS_CROP,
    crop_nets: {
      face_landmark_68: landmarks.map(f32),
      face_landmark_68_tiny: landmarksTiny.map(f32),
      face_recognition: descriptor.map(f32),
      face_expression_logits: exprLogits.map(f32),
      face_expression_probs: exprProbs.map(f32),
      age_gender: ageGender,
    },
    tiny_face_detector: {
      input_size: NETS_TINY_SIZE,
      shape: tinyOut.shape,
      f32le_base64: f32Base64(tinyOut.dataSync()),
    },
    ssd_mobilenetv1: {
      input_size: 512,
      boxes_shape: ssdOut.boxes[0].shape,
      boxes_f32le_base64: f32Base64(ssdOut.boxes[0].dataSync()),
      scores_shape: ssdOut.scores[0].shape,
      scores_f32le_base64: f32Base64(ssdOut.scores[0].dataSync()),
    },
  };
  tf.dispose([image, crop, tinyOut, ssdOut.boxes, ssdOut.scores]);
  return result;
}

function write(outDir, name, json) {
  const file = path.join(outDir, name);
  fs.writeFileSync(file, `${JSON.stringify(json)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)} (${fs.statSync(file).size} bytes)`);
}

async function main() {
  const backend = arg('backend', 'cpu');
  const ppmDir = arg('ppm');
  const outDir = arg('out');
  const flags = new Set(['--ppm', '--out', '--models', '--backend']);
  const images = process.argv.slice(2).filter((a, i, all) => !flags.has(a) && !flags.has(all[i - 1]));
  if (!ppmDir || !outDir || images.length === 0) {
    throw new Error('usage: node golden.mjs --ppm DIR --out DIR [--models DIR] [--backend cpu|wasm] IMAGE...');
  }
  await setBackend(backend);
  await loadNets(modelsDir(), [
    'tinyFaceDetector', 'ssdMobilenetv1', 'faceLandmark68Net', 'faceLandmark68TinyNet',
    'faceRecognitionNet', 'faceExpressionNet', 'ageGenderNet',
  ]);
  fs.mkdirSync(outDir, { recursive: true });
  for (const image of images) {
    const t0 = Date.now();
    const json = await imageGolden(image, ppmDir, backend);
    const n = json.detectors;
    write(outDir, `${path.parse(image).name}.json`, json);
    console.log(`  ${n.tiny.faces.length} tiny / ${n.ssd.faces.length} ssd faces, ${Date.now() - t0} ms`);
  }
  write(outDir, 'nets.json', await rawOutputs(ppmDir, backend));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
