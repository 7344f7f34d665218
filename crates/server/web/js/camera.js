// The camera panel shared by registration, the face check and re-enrolment.
//
// The browser runs no face model: a few times a second a small JPEG of the preview goes to
// POST /api/face/detect, and the boxes and hint that come back drive the overlay and the status
// line. Full-size frames are only taken when the panel captures (automatically once one face has
// been seen steadily for about a second, or when asked), and they stay in memory until the page
// sends them to the server.
import { h, setChildren } from './dom.js';
import { request, ApiError } from './api.js';

const DETECT_INTERVAL_MS = 220; // about 4.5 frames per second
const DETECT_WIDTH = 320;
const STEADY_MS = 1000;
const CAPTURE_GAP_MS = 150;
const MAX_CAPTURE_SIDE = 1280;

const HINT_TEXT = {
  no_face: 'Looking for your face',
  multiple_faces: 'Only one face, please',
  move_closer: 'Move closer',
  ok: 'Hold still',
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function canvasToBlob(canvas, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('encoding failed'))), 'image/jpeg', quality);
  });
}

/** Reads the detect answer whatever the exact field names: `{ faces: [{x,y,w,h,score}], hint }`. */
export function parseDetection(data, frameWidth, frameHeight) {
  const list = (data && (data.faces || data.detections || data.boxes)) || [];
  const faces = [];
  for (const item of list) {
    const b = item.box || item.bbox || item;
    const x = b.x ?? b.left;
    const y = b.y ?? b.top;
    const w = b.width ?? (b.right !== undefined ? b.right - x : undefined);
    const hgt = b.height ?? (b.bottom !== undefined ? b.bottom - y : undefined);
    if (![x, y, w, hgt].every(Number.isFinite)) continue;
    const relative = x <= 1.5 && y <= 1.5 && w <= 1.5 && hgt <= 1.5;
    const sx = relative ? frameWidth : 1;
    const sy = relative ? frameHeight : 1;
    faces.push({ x: x * sx, y: y * sy, w: w * sx, h: hgt * sy, score: item.score ?? b.score ?? null });
  }
  let hint = data && data.hint;
  if (!HINT_TEXT[hint]) hint = faces.length === 0 ? 'no_face' : faces.length > 1 ? 'multiple_faces' : 'ok';
  return { faces, hint };
}

/** What went wrong when the camera could not start, in words: `{ title, text, retry }`. */
export function cameraProblem(err) {
  if (!window.isSecureContext) {
    return {
      title: 'The camera needs a secure connection',
      text: 'Browsers only allow the camera on https:// pages or on localhost. Open this site through its https:// address (ask the operator), then reload.',
      retry: false,
    };
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { title: 'This browser cannot use a camera', text: 'Please try a current version of Firefox, Chrome, Edge or Safari.', retry: false };
  }
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return {
      title: 'Camera access is blocked',
      text: 'To allow it, click the camera or lock icon in the address bar, set Camera to "Allow" for this site, then press "Try again". On a phone, also check that the browser may use the camera in the system settings.',
      retry: true,
    };
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
    return { title: 'No camera found', text: 'Connect a camera (or enable the built-in one), then press "Try again".', retry: true };
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
    return { title: 'The camera is busy', text: 'Another app or tab may be using it. Close it, then press "Try again".', retry: true };
  }
  return { title: 'The camera could not start', text: 'Press "Try again", or reload the page.', retry: true };
}

/** The hidden "upload photos instead" field offered when there is no usable camera. */
export function photoUpload(onChange) {
  const input = h('input', {
    type: 'file', id: `upload-${Math.random().toString(36).slice(2)}`, accept: 'image/jpeg,image/png,image/webp', multiple: true,
    className: 'camera-upload-input', on: { change: onChange },
  });
  const el = h('div', { className: 'camera-upload', hidden: true },
    h('label', { htmlFor: input.id, text: 'Or upload 1 to 3 photos of your face instead' }),
    input,
    h('p', { className: 'field-hint', text: 'Use clear, well-lit photos where only your face is visible.' }));
  return { input, el };
}

/**
 * Draws `faces` (`{x, y, w, h}` in the pixels of a `fw`×`fh` frame) on `overlay`, a canvas over
 * `stage` whose video is shown with object-fit: contain; green when `good`, amber otherwise. The
 * overlay is mirrored by CSS exactly like the video, so the boxes land on the faces.
 */
export function drawFaceBoxes(overlay, stage, faces, fw, fh, good) {
  const rect = stage.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const cw = Math.round(rect.width * dpr);
  const ch = Math.round(rect.height * dpr);
  if (overlay.width !== cw || overlay.height !== ch) {
    overlay.width = cw;
    overlay.height = ch;
  }
  const ctx = overlay.getContext('2d');
  ctx.clearRect(0, 0, cw, ch);
  const scale = Math.min(cw / fw, ch / fh);
  const ox = (cw - fw * scale) / 2;
  const oy = (ch - fh * scale) / 2;
  ctx.lineWidth = 3 * dpr;
  ctx.strokeStyle = good ? '#3ddc84' : '#ffb020';
  for (const f of faces) ctx.strokeRect(ox + f.x * scale, oy + f.y * scale, f.w * scale, f.h * scale);
}

export class CameraPanel {
  /**
   * @param {object} opts
   * @param {boolean} opts.autoCapture capture by itself once one face is steady (register, re-enrol)
   * @param {boolean} opts.manualCapture show the "Capture now" / "Retake" buttons
   * @param {boolean} opts.allowUpload offer a photo upload when there is no usable camera
   * @param {number}  opts.frames how many full-size frames a capture takes (1-3)
   * @param {string}  opts.label accessible name of the preview
   * @param {string}  opts.okText status when exactly one good face is in view
   * @param {(frames: Blob[]) => void} opts.onFrames called whenever the captured frames change
   */
  constructor({ autoCapture = true, manualCapture = true, allowUpload = false, frames = 3, label = 'Camera preview', okText = HINT_TEXT.ok, onFrames = () => {} } = {}) {
    this.opts = { autoCapture, manualCapture, allowUpload, frames, okText, onFrames };
    this.stream = null;
    this.frames = [];
    this.running = false;
    this.detecting = false;
    this.steadySince = null;
    this.lastFace = null;
    this.lastHint = null;
    this.generation = 0;
    this.snapshotUrl = null;
    this.build(label);
  }

  build(label) {
    this.video = h('video', { muted: true, playsInline: true, autoplay: true, className: 'camera-video', attrs: { 'aria-hidden': 'true' } });
    this.overlay = h('canvas', { className: 'camera-overlay', attrs: { 'aria-hidden': 'true' } });
    this.snapshot = h('img', { className: 'camera-snapshot', hidden: true, alt: 'Your captured photo' });
    this.message = h('div', { className: 'camera-message' }, h('p', { text: 'Starting the camera…' }));
    this.stage = h('div', { className: 'camera-stage', attrs: { role: 'img', 'aria-label': label } },
      this.video, this.overlay, this.snapshot, this.message);
    this.status = h('p', { className: 'camera-status', attrs: { role: 'status', 'aria-live': 'polite' }, text: '\u00a0' });
    this.captureBtn = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Capture now', disabled: true, on: { click: () => this.capture() } });
    this.retakeBtn = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Retake', hidden: true, on: { click: () => this.retake() } });
    this.actions = h('div', { className: 'camera-actions', hidden: !this.opts.manualCapture }, this.captureBtn, this.retakeBtn);
    ({ input: this.uploadInput, el: this.upload } = photoUpload(() => this.useUploads()));
    this.el = h('section', { className: 'camera' }, this.stage, this.status, this.actions, this.upload);
  }

  setStatus(text) {
    if (this.status.textContent !== text) this.status.textContent = text || '\u00a0';
  }

  showMessage(title, text, retry) {
    const parts = [h('p', { className: 'camera-message-title', text: title })];
    if (text) parts.push(h('p', { text }));
    if (retry) parts.push(h('button', { type: 'button', className: 'btn btn-secondary', text: 'Try again', on: { click: () => this.start() } }));
    setChildren(this.message, parts);
    this.message.hidden = false;
  }

  /** Opens the camera and starts the live feedback. Resolves true when the preview runs. */
  async start() {
    this.showMessage('Starting the camera…', 'Your browser may ask for permission.', false);
    this.setStatus('Starting the camera…');
    try {
      if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('unsupported');
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (err) {
      const problem = cameraProblem(err);
      this.showMessage(problem.title, problem.text, problem.retry);
      this.setStatus(problem.title);
      if (this.opts.allowUpload) this.upload.hidden = false;
      this.cameraFailed = true;
      return false;
    }
    this.cameraFailed = false;
    this.upload.hidden = true;
    this.video.srcObject = this.stream;
    try {
      await this.video.play();
    } catch {
      // autoplay of a muted inline video is allowed everywhere; if not, the loop below waits.
    }
    await this.waitForVideo();
    this.message.hidden = true;
    this.captureBtn.disabled = false;
    this.running = true;
    this.resumeDetection();
    return true;
  }

  async waitForVideo() {
    for (let i = 0; i < 100 && !this.video.videoWidth; i += 1) await sleep(50);
  }

  /** Stops the camera and the feedback loop (call when leaving the page). */
  stop() {
    this.running = false;
    this.generation += 1;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    if (this.snapshotUrl) URL.revokeObjectURL(this.snapshotUrl);
    this.snapshotUrl = null;
  }

  resumeDetection() {
    this.generation += 1;
    const generation = this.generation;
    this.steadySince = null;
    this.lastFace = null;
    this.detectLoop(generation);
  }

  async detectLoop(generation) {
    while (this.running && generation === this.generation) {
      const started = performance.now();
      let wait = DETECT_INTERVAL_MS;
      try {
        await this.detectOnce(generation);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 429 || err.status === 503)) {
          wait = Math.max(1000, (err.retryAfter ?? 1) * 1000);
        } else {
          this.setStatus('Live face feedback is unavailable right now; you can still capture.');
          wait = 2000;
        }
      }
      await sleep(Math.max(0, wait - (performance.now() - started)));
    }
  }

  async detectOnce(generation) {
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    if (!vw || !vh) return;
    const scale = Math.min(1, DETECT_WIDTH / vw);
    const fw = Math.round(vw * scale);
    const fh = Math.round(vh * scale);
    const canvas = this.detectCanvas || (this.detectCanvas = document.createElement('canvas'));
    canvas.width = fw;
    canvas.height = fh;
    canvas.getContext('2d').drawImage(this.video, 0, 0, fw, fh);
    const blob = await canvasToBlob(canvas, 0.7);
    const form = new FormData();
    form.append('frame', blob, 'frame.jpg');
    const data = await request('POST', '/api/face/detect', form);
    if (!this.running || generation !== this.generation) return;
    const { faces, hint } = parseDetection(data, fw, fh);
    this.drawBoxes(faces, fw, fh, hint);
    this.track(faces, hint);
  }

  track(faces, hint) {
    this.lastHint = hint;
    const now = performance.now();
    if (hint !== 'ok' || faces.length !== 1) {
      this.steadySince = null;
      this.lastFace = null;
      this.setStatus(HINT_TEXT[hint]);
      return;
    }
    const face = faces[0];
    const prev = this.lastFace;
    const steady = prev
      && Math.abs(face.x + face.w / 2 - (prev.x + prev.w / 2)) < 0.12 * prev.w
      && Math.abs(face.y + face.h / 2 - (prev.y + prev.h / 2)) < 0.12 * prev.h
      && Math.abs(face.w - prev.w) < 0.2 * prev.w;
    this.lastFace = face;
    if (!steady || this.steadySince === null) this.steadySince = now;
    this.setStatus(this.opts.okText);
    if (this.opts.autoCapture && now - this.steadySince >= STEADY_MS) this.capture();
  }

  drawBoxes(faces, fw, fh, hint) {
    drawFaceBoxes(this.overlay, this.stage, faces, fw, fh, hint === 'ok' && faces.length === 1);
  }

  clearOverlay() {
    const ctx = this.overlay.getContext('2d');
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
  }

  /** Takes `n` full-size JPEG frames from the live preview. */
  async grabFrames(n = this.opts.frames) {
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    if (!this.stream || !vw || !vh) throw new Error('camera not running');
    const scale = Math.min(1, MAX_CAPTURE_SIDE / Math.max(vw, vh));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(vw * scale);
    canvas.height = Math.round(vh * scale);
    const ctx = canvas.getContext('2d');
    const frames = [];
    for (let i = 0; i < n; i += 1) {
      if (i > 0) await sleep(CAPTURE_GAP_MS);
      ctx.drawImage(this.video, 0, 0, canvas.width, canvas.height);
      frames.push(await canvasToBlob(canvas, 0.92));
    }
    return frames;
  }

  /** Captures frames, freezes the preview on the snapshot and offers a retake. */
  async capture() {
    if (this.capturing || !this.stream) return;
    this.capturing = true;
    this.generation += 1; // pauses the feedback loop
    try {
      const frames = await this.grabFrames();
      this.showFrames(frames);
      this.setStatus(`Got it. ${this.opts.manualCapture ? 'Not happy with it? Press Retake.' : ''}`.trim());
    } catch {
      this.setStatus('The capture failed. Please try again.');
      this.resumeDetection();
    } finally {
      this.capturing = false;
    }
  }

  showFrames(frames, { uploaded = false } = {}) {
    this.frames = frames;
    this.snapshot.classList.toggle('is-upload', uploaded);
    if (this.snapshotUrl) URL.revokeObjectURL(this.snapshotUrl);
    this.snapshotUrl = URL.createObjectURL(frames[0]);
    this.snapshot.src = this.snapshotUrl;
    this.snapshot.hidden = false;
    this.clearOverlay();
    this.captureBtn.hidden = true;
    this.retakeBtn.hidden = false;
    this.opts.onFrames(frames);
  }

  /** Throws the snapshot away and goes back to the live preview. */
  retake() {
    this.frames = [];
    this.snapshot.hidden = true;
    this.retakeBtn.hidden = true;
    this.captureBtn.hidden = false;
    this.opts.onFrames([]);
    if (this.cameraFailed) {
      this.uploadInput.value = '';
      this.setStatus('Choose a photo to upload.');
      return;
    }
    this.setStatus(HINT_TEXT.no_face);
    this.resumeDetection();
    if (this.opts.manualCapture && this.el.contains(document.activeElement)) this.captureBtn.focus();
  }

  /** Shows the snapshot of frames taken outside capture() (used by the face check). */
  freeze(frames) {
    this.generation += 1;
    this.showFrames(frames);
  }

  useUploads() {
    const files = [...this.uploadInput.files].slice(0, 3);
    if (files.length === 0) return;
    this.message.hidden = true;
    this.actions.hidden = false;
    this.captureBtn.hidden = true;
    this.showFrames(files, { uploaded: true });
    this.setStatus(`${files.length} photo${files.length === 1 ? '' : 's'} chosen.`);
  }
}
