// Times @vladmandic/face-api 1.7.15 on tfjs's wasm backend (the fastest one without tfjs-node),
// stage by stage, and prints JSON for the Rust benchmark to show side by side.
//
//   node bench.mjs --ppm sample1.ppm [--models DIR] [--backend wasm|cpu] [--iters 20]
//
// `--ppm` is sample1.jpg as the engine decodes it (`dump_ppm` example). The one-face frame is
// its 640x480 crop at (FRAME.x, FRAME.y), which holds exactly one face; the Rust benchmark cuts
// the same crop. Images are already decoded: decoding is not timed on either side.

import { performance } from 'node:perf_hooks';

import {
  arg, faceapi, LIBRARY, loadNets, median, modelsDir, ppmTensor, readPpm, setBackend, tf, TFJS,
} from './lib.mjs';

export const FRAME = { x: 650, y: 250, width: 640, height: 480 };

async function time(iters, fn) {
  await fn(); // warm-up: kernel compilation, first allocations
  const ms = [];
  for (let i = 0; i < iters; i += 1) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return Number(median(ms).toFixed(2));
}

async function main() {
  const ppmPath = arg('ppm');
  if (!ppmPath) throw new Error('usage: node bench.mjs --ppm sample1.ppm [--models DIR] [--backend wasm] [--iters N]');
  const backend = arg('backend', 'wasm');
  const iters = Number(arg('iters', '20'));
  await setBackend(backend);
  await loadNets(modelsDir(), ['tinyFaceDetector', 'ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet']);

  const sample1 = ppmTensor(readPpm(ppmPath));
  const frame = tf.slice3d(sample1, [FRAME.y, FRAME.x, 0], [FRAME.height, FRAME.width, 3]);
  const tiny = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 });
  const ssd = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 100 });

  const one = await faceapi.detectSingleFace(frame, tiny).withFaceLandmarks().withFaceDescriptor();
  if (!one) throw new Error('no face in the benchmark frame');
  const [faceCrop] = await faceapi.extractFaceTensors(frame, [one.detection]);
  const [dlibCrop] = await faceapi.extractFaceTensors(frame, [one.landmarks.align(null, { useDlibAlignment: true })]);
  const nets = faceapi.nets;

  const stages = {
    tiny_detect_416: await time(iters, () => faceapi.detectAllFaces(frame, tiny)),
    landmarks: await time(iters, () => nets.faceLandmark68Net.detectLandmarks(faceCrop)),
    recognition: await time(iters, () => nets.faceRecognitionNet.computeFaceDescriptor(dlibCrop)),
    tiny_pipeline_frame: await time(iters, () => faceapi.detectSingleFace(frame, tiny).withFaceLandmarks().withFaceDescriptor()),
    ssd_detect: await time(Math.max(3, iters >> 2), () => faceapi.detectAllFaces(frame, ssd)),
    ssd_pipeline_frame: await time(Math.max(3, iters >> 2), () => faceapi.detectSingleFace(frame, ssd).withFaceLandmarks().withFaceDescriptor()),
    tiny_pipeline_sample1_all: await time(Math.max(3, iters >> 2), () => faceapi.detectAllFaces(sample1, tiny).withFaceLandmarks().withFaceDescriptors()),
    ssd_pipeline_sample1_all: await time(Math.max(3, iters >> 2), () => faceapi.detectAllFaces(sample1, ssd).withFaceLandmarks().withFaceDescriptors()),
  };
  tf.dispose([sample1, frame, faceCrop, dlibCrop]);

  const flags = {};
  for (const flag of ['WASM_HAS_SIMD_SUPPORT', 'WASM_HAS_MULTITHREAD_SUPPORT']) {
    flags[flag] = await tf.env().getAsync(flag).catch(() => null);
  }
  console.log(JSON.stringify({
    library: LIBRARY,
    tfjs: TFJS,
    backend,
    backend_flags: backend === 'wasm' ? flags : undefined,
    iterations: iters,
    frame: { image: 'sample1.jpg', ...FRAME },
    median_ms: stages,
  }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
