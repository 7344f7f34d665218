// The live face check (docs/live-check.md): after a button press the camera streams small JPEG
// frames over GET /api/face/live and the page shows what the server says: the face box and a
// hint, one prompt at a time (arrow, text, step, time left) and the outcome. The server chooses
// the prompts, keeps the time and decides; nothing is judged here.
import { h, setChildren } from './dom.js';
import { api, ApiError } from './api.js';
import { describeError } from './errors.js';
import { canvasToBlob, cameraProblem, drawFaceBoxes, photoUpload } from './camera.js';

const FRAME_WIDTH = 320;
const FRAME_HEIGHT = 240;
const MIN_GAP_MS = 100; // the server allows at most 15 frames a second
const MAX_FRAME_BYTES = 64 * 1024;
const SLACK_MS = 10000; // how long past the server's own time limit we wait for its answer

/** What each prompt asks, and which way its arrow points on the mirrored (selfie) preview. */
export const PROMPTS = {
  // Left and right are the person's own. In a mirror their own left is on the screen's left,
  // so the arrow for "turn to your left" points left.
  turn_left: { text: 'Turn your head to your left', cue: 'left' },
  turn_right: { text: 'Turn your head to your right', cue: 'right' },
  look_up: { text: 'Tilt your head up', cue: 'up' },
  look_down: { text: 'Tilt your head down', cue: 'down' },
  smile: { text: 'Smile', cue: 'smile' },
};

/** The server's `guidance` for each frame, as a short instruction. */
export const GUIDANCE = {
  ok: 'Good. Keep looking at the camera.',
  no_face: 'Looking for your face…',
  multiple_faces: 'Only one face, please',
  move_closer: 'Move closer',
  move_back: 'Move back a little',
  center_face: 'Move your face to the middle',
  too_dark: 'Too dark: find more light',
  too_bright: 'Too bright: turn away from strong light',
  blurry: 'Blurry picture: hold still',
  look_straight: 'Face the camera',
  hold_still: 'Hold still',
  eyes_closed: 'Keep your eyes open',
};

/** A failed check (`code` and `reason` of a `result`) in words that say what to do next. */
const FAILURES = {
  step_missed: 'We did not see you follow the prompt in time. Press "Try again", and follow each arrow as soon as it appears.',
  wrong_movement: 'That was not the movement asked for. Press "Try again" and follow the arrow: it points the way to move, as in a mirror.',
  moved_early: 'You moved before the prompt appeared. Press "Try again", keep looking straight at the camera, and move only when an arrow asks you to.',
  face_lost: 'Your face left the picture during the check. Press "Try again" and keep your whole face in view until the end.',
  face_changed: 'The picture of your face jumped or changed during the check. Press "Try again", stay in view and move your head smoothly.',
  liveness_failed: 'The check could not confirm that you were there live. Press "Try again" and follow each prompt.',
  multiple_faces: 'Another face appeared during the check. Make sure only you are in view, then press "Try again".',
  face_mismatch: "That didn't match the face enrolled for this account. Check your lighting, face the camera and press \"Try again\".",
  no_face: 'We could not see your face clearly. Face the camera in good light, then press "Try again".',
  timeout: 'The check ran out of time. Press "Try again" and follow the prompts as they come.',
  busy: 'The server is busy right now. Please wait a moment, then press "Try again".',
  server_restarting: 'The server is restarting. Please wait a moment, then press "Try again".',
  cancelled: 'You stopped the check. Press "Try again" when you are ready.',
  rate_limited: 'Too many face checks from this network. Please wait a moment, then press "Try again".',
  image_invalid: 'The server could not read a camera picture. Press "Try again"; if it keeps happening, reload the page.',
  invalid_request: 'The check was stopped: the browser sent something the server did not expect. Press "Try again"; if it keeps happening, reload the page.',
};

/** What a socket closed before its `result` means (close codes of docs/live-check.md). */
const CLOSES = {
  1001: 'The server is restarting. Please wait a moment, then press "Try again".',
  1012: 'The server is restarting. Please wait a moment, then press "Try again".',
  4003: 'The camera sent pictures too quickly and the check was stopped. Press "Try again".',
  4004: 'The server could not read a camera picture. Press "Try again"; if it keeps happening, reload the page.',
  4008: 'The check ran out of time. Press "Try again" and follow the prompts as they come.',
};
const CONNECTION_LOST = 'The connection to the server was lost. Check your connection, then press "Try again".';

/** The sentence for a failed `result`. */
export function failureMessage(result) {
  return FAILURES[result.reason] || FAILURES[result.code]
    || describeError(new ApiError(0, result.code || 'failed', result.message || 'The face check did not pass. Press "Try again".'));
}

/**
 * Asks GET /api/face/live without the WebSocket upgrade: the server answers with the refusal the
 * upgrade would get (401, 403 face_disabled, 429 locked_out or rate_limited, 404 when the live
 * check is off) and otherwise with 426, since a check needs the socket. Resolves with the
 * ApiError of a refusal, or null when a check may start.
 */
export async function probeLiveCheck(purpose) {
  try {
    await api.get(`/api/face/live?purpose=${purpose}`);
    return null;
  } catch (err) {
    if (!(err instanceof ApiError)) return new ApiError(0, 'network', '');
    return [400, 405, 426].includes(err.status) ? null : err;
  }
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** The big cue over the preview: an arrow pointing `cue`'s way, or a smiling mouth. */
function cueGraphic(cue) {
  if (cue === 'smile') {
    return svg('svg', { viewBox: '0 0 100 100', class: 'live-cue-svg' },
      svg('circle', { cx: 50, cy: 50, r: 44, class: 'live-cue-ring' }),
      svg('circle', { cx: 35, cy: 40, r: 6, class: 'live-cue-fill' }),
      svg('circle', { cx: 65, cy: 40, r: 6, class: 'live-cue-fill' }),
      svg('path', { d: 'M28 60 Q50 82 72 60', class: 'live-cue-line' }));
  }
  const turn = { right: 0, down: 90, left: 180, up: 270 }[cue] ?? 0;
  return svg('svg', { viewBox: '0 0 100 100', class: 'live-cue-svg' },
    svg('g', { transform: `rotate(${turn} 50 50)` },
      svg('path', { d: 'M12 40 H58 V20 L90 50 L58 80 V60 H12 Z', class: 'live-cue-arrow' })));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class LiveCheck {
  /**
   * @param {object} opts
   * @param {'verify'|'enrol'} opts.purpose
   * @param {string} opts.startText label of the button that starts the check
   * @param {string} opts.label accessible name of the preview
   * @param {string} opts.idleText what the stage says before the first start
   * @param {string} opts.passedText what the stage says under "Face captured" (enrolment)
   * @param {(result: object) => Promise<void>} opts.onPassed the page finishes a passed check
   *   (redeems the ticket, keeps the enrolment); a thrown error is shown like a failure
   * @param {(seconds: number) => void} opts.onLockedOut the account's face check is locked for a while
   * @param {() => void} opts.onDisabled the face factor is disabled: no check can pass
   * @param {(err: ApiError) => boolean} opts.onRefused any other refusal of the socket; true when handled
   * @param {boolean} opts.allowUpload offer photos to upload when there is no usable camera
   * @param {(files: File[]) => void} opts.onUploads the uploaded photos changed
   */
  constructor(opts) {
    this.opts = {
      startText: 'Start face check', label: 'Camera preview', idleText: 'The camera turns on when you press the button below.',
      onPassed: async () => {}, onLockedOut: () => {}, onDisabled: () => {}, onRefused: () => false,
      passedText: '', allowUpload: false, onUploads: () => {}, ...opts,
    };
    this.stream = null;
    this.socket = null;
    this.run = 0; // bumped on every start and stop; a stale callback sees a different number
    this.blocked = false;
    this.uploads = [];
    this.build();
  }

  build() {
    const o = this.opts;
    this.video = h('video', { muted: true, playsInline: true, autoplay: true, className: 'camera-video', attrs: { 'aria-hidden': 'true' } });
    this.overlay = h('canvas', { className: 'camera-overlay', attrs: { 'aria-hidden': 'true' } });
    this.cue = h('div', { className: 'live-cue', hidden: true, attrs: { 'aria-hidden': 'true' } });
    this.message = h('div', { className: 'camera-message' });
    this.stage = h('div', { className: 'camera-stage live-stage', attrs: { role: 'img', 'aria-label': o.label } },
      this.video, this.overlay, this.cue, this.message);
    this.progress = h('p', { className: 'live-progress', hidden: true });
    this.dots = h('ol', { className: 'live-dots', hidden: true, attrs: { 'aria-hidden': 'true' } });
    this.timerFill = h('div', { className: 'live-timer-fill' });
    this.timerText = h('span', { className: 'live-timer-text' });
    // The time bar keeps its place when idle, so nothing below it jumps when a prompt comes.
    this.timer = h('div', { className: 'live-timer is-idle', attrs: { 'aria-hidden': 'true' } },
      h('div', { className: 'live-timer-track' }, this.timerFill), this.timerText);
    // Prompts are announced at once and whole; the hints below them politely, as they change.
    this.prompt = h('p', { className: 'live-prompt', attrs: { 'aria-live': 'assertive', 'aria-atomic': 'true' } });
    this.status = h('p', { className: 'camera-status', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.startBtn = h('button', { type: 'button', className: 'btn btn-primary', text: o.startText, on: { click: () => this.start() } });
    this.cancelBtn = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Stop', hidden: true, on: { click: () => this.cancel() } });
    this.actions = h('div', { className: 'camera-actions' }, this.startBtn, this.cancelBtn);
    this.el = h('section', { className: 'camera live-check' },
      this.stage, h('div', { className: 'live-steps' }, this.progress, this.timer, this.dots), this.prompt, this.status, this.actions,
      o.allowUpload ? this.buildUpload() : null);
    this.showMessage('The camera is off', o.idleText);
  }

  buildUpload() {
    ({ input: this.uploadInput, el: this.upload } = photoUpload(() => this.useUploads()));
    return this.upload;
  }

  /** Offers the photo upload instead of the camera; true when there is one to offer. */
  offerUpload() {
    if (!this.upload) return false;
    this.end();
    this.stopCamera();
    this.startBtn.hidden = true;
    this.showMessage('Upload photos instead', 'This server does not take a live face capture. Please upload 1 to 3 photos of your face below.');
    this.upload.hidden = false;
    return true;
  }

  useUploads() {
    this.uploads = [...this.uploadInput.files].slice(0, 3);
    if (this.snapshotUrl) URL.revokeObjectURL(this.snapshotUrl);
    this.snapshotUrl = this.uploads.length ? URL.createObjectURL(this.uploads[0]) : null;
    if (!this.snapshot) {
      this.snapshot = h('img', { className: 'camera-snapshot is-upload', alt: 'The photo you chose' });
      this.stage.insertBefore(this.snapshot, this.message);
    }
    this.snapshot.hidden = !this.snapshotUrl;
    if (this.snapshotUrl) this.snapshot.src = this.snapshotUrl;
    this.message.hidden = Boolean(this.snapshotUrl);
    this.startBtn.className = `btn ${this.snapshotUrl ? 'btn-secondary' : 'btn-primary'}`;
    this.setStatus('');
    this.opts.onUploads(this.uploads);
  }

  setStatus(text) {
    // While a check runs, an empty line keeps its place (no jumps); afterwards it folds away.
    const value = text || (this.running ? '\u00a0' : '');
    if (this.status.textContent !== value) this.status.textContent = value;
  }

  setPrompt(text) {
    this.prompt.classList.remove('is-failure');
    if (this.prompt.textContent !== text) this.prompt.textContent = text;
  }

  showMessage(title, text, { tone = '' } = {}) {
    setChildren(this.message,
      h('p', { className: `camera-message-title${tone ? ` is-${tone}` : ''}`, text: title }),
      text ? h('p', { text }) : null);
    this.message.hidden = false;
  }

  /** Disables starting (a lockout is counting down) or allows it again. */
  setBlocked(blocked) {
    this.blocked = blocked;
    this.startBtn.disabled = blocked;
  }

  /** Opens the camera, then the socket; the user pressed the start button. */
  async start() {
    if (this.blocked || this.running) return;
    const run = ++this.run;
    this.running = true;
    this.el.classList.add('is-running');
    this.result = null;
    this.resetSteps();
    this.startBtn.hidden = true;
    this.cancelBtn.hidden = false;
    this.cancelBtn.disabled = false;
    // The pressed button is gone: keep keyboard focus in the panel, on the way out.
    this.cancelBtn.focus();
    if (this.snapshot) this.snapshot.hidden = true;
    this.showMessage('Starting the camera…', 'Your browser may ask for permission.');
    this.setPrompt('');
    this.setStatus('Starting the camera…');
    // A refused handshake is unreadable to a page (and logs an error): ask first over plain
    // HTTP whether a check may start now (lockout, disabled face, session).
    const refusal = await probeLiveCheck(this.opts.purpose);
    if (run !== this.run) return;
    if (refusal && refusal.status !== 0) {
      this.end();
      this.handleRefusal(refusal);
      return;
    }
    if (!(await this.openCamera(run))) return;
    if (run !== this.run) return;
    this.message.hidden = true;
    this.setStatus('Connecting…');
    this.connect(run);
  }

  async openCamera(run) {
    try {
      if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('unsupported');
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (err) {
      if (run !== this.run) return false;
      const problem = cameraProblem(err);
      this.end();
      this.showMessage(problem.title, problem.text, { tone: 'bad' });
      this.setStatus(problem.title);
      this.startBtn.textContent = problem.retry ? 'Try again' : this.opts.startText;
      this.startBtn.hidden = !problem.retry;
      if (this.upload) this.upload.hidden = false;
      return false;
    }
    if (run !== this.run) {
      this.stopCamera();
      return false;
    }
    if (this.upload) this.upload.hidden = true;
    this.video.srcObject = this.stream;
    try {
      await this.video.play();
    } catch {
      // a muted inline video may always play; if not, the wait below runs out
    }
    for (let i = 0; i < 100 && !this.video.videoWidth; i += 1) await sleep(50);
    return true;
  }

  connect(run) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/api/face/live?purpose=${this.opts.purpose}`);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.ready = false;
    this.inFlight = false;
    this.lastSend = 0;
    socket.addEventListener('message', (event) => {
      if (run !== this.run || typeof event.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(run, msg);
    });
    socket.addEventListener('close', (event) => {
      if (run !== this.run || this.result) return;
      if (this.ready) this.fail(CLOSES[event.code] || CONNECTION_LOST);
      else this.refused(run);
    });
  }

  onMessage(run, msg) {
    switch (msg.type) {
      case 'ready': return this.onReady(run, msg);
      case 'frame': return this.onFrame(run, msg);
      case 'capture': return this.onCapture(msg);
      case 'prompt': return this.onPrompt(msg);
      case 'step': return this.onStep(msg);
      case 'result': return this.onResult(run, msg);
      default: return undefined;
    }
  }

  onReady(run, msg) {
    this.ready = true;
    this.steps = Math.max(0, Number(msg.steps) || 0);
    setChildren(this.dots, Array.from({ length: this.steps }, () => h('li', { className: 'live-dot' })));
    this.dots.hidden = this.steps === 0;
    this.progress.hidden = false;
    this.progress.textContent = this.opts.purpose === 'enrol' ? 'Capturing your face' : 'Get ready';
    this.setPrompt('Look straight at the camera');
    this.setStatus(GUIDANCE.no_face);
    const limit = Number(msg.time_limit_ms) || 60000;
    this.watchdog = setTimeout(() => {
      if (run === this.run && !this.result) this.fail(CLOSES[4008]);
    }, limit + SLACK_MS);
    this.sendFrame(run);
  }

  /** Sends one frame; the next goes after its answer and no sooner than MIN_GAP_MS after it. */
  async sendFrame(run) {
    if (run !== this.run || this.inFlight || this.result) return;
    const wait = this.lastSend + MIN_GAP_MS - performance.now();
    if (wait > 0) {
      this.inFlight = true;
      await sleep(wait);
      this.inFlight = false;
      if (run !== this.run) return;
    }
    this.inFlight = true;
    let blob;
    try {
      blob = await this.grab();
    } catch {
      blob = null;
    }
    if (run !== this.run || !this.socket || this.socket.readyState !== WebSocket.OPEN || this.result) return;
    if (!blob) {
      this.inFlight = false;
      setTimeout(() => this.sendFrame(run), MIN_GAP_MS);
      return;
    }
    this.lastSend = performance.now();
    this.socket.send(blob);
  }

  /** The current preview as a JPEG of at most 320×240 (the camera's own pixels, not mirrored). */
  async grab() {
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    if (!vw || !vh) return null;
    const scale = Math.min(FRAME_WIDTH / vw, FRAME_HEIGHT / vh, 1);
    const canvas = this.canvas || (this.canvas = document.createElement('canvas'));
    canvas.width = Math.round(vw * scale);
    canvas.height = Math.round(vh * scale);
    canvas.getContext('2d').drawImage(this.video, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.8, 0.6, 0.4]) {
      const blob = await canvasToBlob(canvas, quality);
      if (blob.size <= MAX_FRAME_BYTES) return blob;
    }
    return null;
  }

  onFrame(run, msg) {
    this.inFlight = false;
    this.drawFace(msg.face, msg.guidance);
    this.showGuidance(msg.guidance);
    this.sendFrame(run);
  }

  // A hint is shown once two frames in a row agree, so it does not flicker (or chatter in a
  // screen reader). During a prompt, hints about facing the camera would contradict the prompt.
  showGuidance(guidance) {
    const previous = this.lastGuidance;
    this.lastGuidance = guidance;
    if (guidance !== previous && this.shownGuidance !== undefined) return;
    if (this.prompting && ['look_straight', 'hold_still', 'ok'].includes(guidance)) return;
    this.shownGuidance = guidance;
    if (this.opts.purpose === 'enrol' && guidance === 'ok' && this.captured !== undefined) return;
    this.setStatus(GUIDANCE[guidance] || '');
  }

  drawFace(face, guidance) {
    if (!this.canvas) return;
    const faces = face ? [{ x: face.x, y: face.y, w: face.width, h: face.height }] : [];
    drawFaceBoxes(this.overlay, this.stage, faces, this.canvas.width, this.canvas.height, guidance === 'ok');
  }

  onCapture(msg) {
    this.captured = msg.captured;
    this.setStatus(`Hold still: ${msg.captured} of ${msg.of} captured`);
  }

  onPrompt(msg) {
    const prompt = PROMPTS[msg.action] || { text: String(msg.action || '').replace(/_/g, ' '), cue: 'none' };
    this.prompting = true;
    this.currentStep = msg.step;
    const of = msg.of || this.steps;
    this.progress.textContent = `Step ${msg.step} of ${of}`;
    this.markDots(msg.step, 'current');
    // The bar shows the time left; a screen reader hears it once, with the prompt.
    const seconds = Math.round((Number(msg.time_limit_ms) || 0) / 1000);
    setChildren(this.prompt, prompt.text,
      seconds ? h('span', { className: 'visually-hidden', text: ` (${seconds} seconds)` }) : null);
    this.setStatus('');
    setChildren(this.cue, cueGraphic(prompt.cue));
    this.cue.className = `live-cue live-cue-${prompt.cue}`;
    this.cue.hidden = false;
    this.startTimer(Number(msg.time_limit_ms) || 0);
  }

  onStep(msg) {
    this.prompting = false;
    this.stopTimer();
    this.cue.hidden = true;
    this.markDots(msg.step, msg.passed === false ? 'missed' : 'done');
    if (msg.passed === false) return;
    const last = msg.step >= this.steps;
    this.setPrompt(last ? 'Done. Look straight at the camera while we finish.' : 'Good. Now look straight at the camera again.');
  }

  markDots(step, state) {
    [...this.dots.children].forEach((dot, i) => {
      if (i + 1 === step) dot.className = `live-dot is-${state}`;
      else if (i + 1 < step && !/is-(done|missed)/.test(dot.className)) dot.className = 'live-dot is-done';
    });
  }

  startTimer(ms) {
    this.stopTimer();
    if (!ms) return;
    const until = performance.now() + ms;
    this.timer.classList.remove('is-idle');
    const tick = () => {
      const left = Math.max(0, until - performance.now());
      this.timerFill.style.transform = `scaleX(${left / ms})`;
      this.timerText.textContent = `${Math.ceil(left / 1000)} s`;
      if (left <= 0) this.stopTimer({ keep: true });
    };
    tick();
    this.timerTick = setInterval(tick, 100);
  }

  stopTimer({ keep = false } = {}) {
    clearInterval(this.timerTick);
    this.timerTick = null;
    if (!keep) this.timer.classList.add('is-idle');
  }

  resetSteps() {
    this.stopTimer();
    this.currentStep = 0;
    this.stoppedAt = 0;
    this.prompting = false;
    this.captured = undefined;
    this.lastGuidance = undefined;
    this.shownGuidance = undefined;
    this.cue.hidden = true;
    this.progress.hidden = true;
    this.dots.hidden = true;
    this.overlay.getContext('2d').clearRect(0, 0, this.overlay.width, this.overlay.height);
  }

  async onResult(run, msg) {
    this.result = msg;
    this.end({ keepSteps: msg.outcome !== 'passed' });
    if (msg.outcome === 'passed') {
      const enrol = this.opts.purpose === 'enrol';
      this.showMessage(enrol ? 'Face captured' : 'Face check passed', enrol ? this.opts.passedText : 'Signing you in…', { tone: 'good' });
      this.setPrompt('');
      this.setStatus(enrol ? '' : 'Face check passed. Signing you in…');
      this.startBtn.textContent = 'Capture again';
      this.startBtn.className = 'btn btn-secondary';
      this.startBtn.hidden = !enrol;
      try {
        await this.opts.onPassed(msg);
      } catch (err) {
        if (run === this.run) this.failed(describeError(err));
      }
      return;
    }
    this.handleRefusal(new ApiError(0, msg.code || 'failed', msg.message || '', msg.retry_after ?? null), failureMessage(msg));
  }

  /** The socket closed before `ready`: ask over plain HTTP why (lockout, session, limit...). */
  async refused(run) {
    const err = await probeLiveCheck(this.opts.purpose);
    if (run !== this.run) return;
    this.end();
    if (!err || err.status === 0) {
      this.failed('Could not connect to the face check. Check your connection, then press "Try again".');
      return;
    }
    this.handleRefusal(err);
  }

  /** The server refused the check (`err` from the socket's result or from probeLiveCheck). */
  handleRefusal(err, sentence = FAILURES[err.code] || describeError(err)) {
    const refusal = ['locked_out', 'face_disabled'].includes(err.code);
    this.end({ keepSteps: !refusal });
    if (err.code === 'locked_out') {
      this.showMessage('Face check locked for a while', 'Too many failed face checks.', { tone: 'bad' });
      this.setPrompt('');
      this.setStatus('');
      this.startBtn.textContent = 'Try again';
      this.startBtn.hidden = false;
      this.opts.onLockedOut(err.retryAfter ?? 30);
      return;
    }
    if (err.code === 'face_disabled') {
      this.showMessage('Face check disabled', 'The camera is off. It is needed again once your face is re-enrolled.', { tone: 'bad' });
      this.setPrompt('');
      this.setStatus('');
      this.startBtn.hidden = true;
      this.opts.onDisabled();
      return;
    }
    this.showMessage('The camera is off', '');
    this.setPrompt('');
    this.setStatus('');
    if (!this.opts.onRefused(err)) this.failed(sentence);
  }

  /** Shows why the check failed and offers another try (the result is already in). */
  failed(sentence) {
    this.end({ keepSteps: true });
    if (this.stoppedAt) this.markDots(this.stoppedAt, 'missed');
    this.showMessage(this.opts.purpose === 'enrol' ? 'The face capture did not finish' : 'The face check did not pass', '', { tone: 'bad' });
    this.setPrompt(sentence);
    this.prompt.classList.add('is-failure');
    this.setStatus('');
    this.startBtn.textContent = 'Try again';
    this.startBtn.className = 'btn btn-primary';
    this.startBtn.hidden = false;
    this.startBtn.disabled = this.blocked;
    if (!this.blocked) this.startBtn.focus();
  }

  /** The check broke off without a result from the server. */
  fail(sentence) {
    this.result = { outcome: 'failed' };
    this.failed(sentence);
  }

  /** The user gave up: the server answers with `cancelled`. */
  cancel() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.ready) {
      this.socket.send(JSON.stringify({ type: 'cancel' }));
      this.cancelBtn.disabled = true;
      return;
    }
    this.run += 1;
    this.result = { outcome: 'failed', code: 'cancelled' };
    this.failed(FAILURES.cancelled);
  }

  /** Camera off, socket closed, timers stopped; the stage keeps its last message. */
  end({ keepSteps = false } = {}) {
    clearTimeout(this.watchdog);
    this.stopTimer();
    this.cue.hidden = true;
    if (this.prompting) this.stoppedAt = this.currentStep; // the step a failure broke off
    this.prompting = false;
    if (!keepSteps) {
      this.progress.hidden = true;
      this.dots.hidden = true;
    }
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1000);
    }
    this.stopCamera();
    this.overlay.getContext('2d').clearRect(0, 0, this.overlay.width, this.overlay.height);
    this.running = false;
    this.el.classList.remove('is-running');
    if (this.status.textContent === '\u00a0') this.status.textContent = '';
    this.cancelBtn.hidden = true;
    this.startBtn.hidden = false;
  }

  stopCamera() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  /** Back to the first screen (used after a passed enrolment is thrown away). */
  reset() {
    this.run += 1;
    this.end();
    this.result = null;
    this.startBtn.textContent = this.opts.startText;
    this.startBtn.className = 'btn btn-primary';
    this.showMessage('The camera is off', this.opts.idleText);
    this.setPrompt('');
    this.setStatus('');
  }

  /** Leaving the page: the check is abandoned. */
  stop() {
    this.run += 1;
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.ready && !this.result) {
      this.socket.send(JSON.stringify({ type: 'cancel' }));
    }
    this.end();
    if (this.snapshotUrl) URL.revokeObjectURL(this.snapshotUrl);
  }
}
