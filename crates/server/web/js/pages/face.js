// Face check: the second login step. An explicit "Verify" press asks the server for a one-time
// challenge, takes a few frames and sends them; the server decides. Nothing is decided here.
import { api, ApiError } from '../api.js';
import { h, alertBox, formatCountdown } from '../dom.js';
import { describeError } from '../errors.js';
import { authShell } from '../layout.js';
import { CameraPanel } from '../camera.js';

export const name = 'face';

const FRAMES = 3;

export function render({ root, navigate, notice, session }) {
  document.title = 'Face check · facegate';
  const alert = alertBox();
  const countdown = h('p', { className: 'countdown', hidden: true, attrs: { 'aria-live': 'off' } });
  const camera = new CameraPanel({
    autoCapture: false, manualCapture: false, frames: FRAMES, label: 'Camera preview for the face check',
    okText: 'Face found. Hold still and press Verify.',
  });
  const verify = h('button', { type: 'button', className: 'btn btn-primary btn-block', text: 'Verify', disabled: true, on: { click: onVerify } });
  const logout = h('button', { type: 'button', className: 'btn btn-link', text: 'Log out', on: { click: onLogout } });
  let timer = null;
  let lockedUntil = 0;
  let disabled = false;
  let faceOff = false; // face_disabled: no check can pass until re-enrolment
  let cameraReady = false;

  if (notice) alert.show(notice, 'info');
  const who = session && session.user && (session.user.full_name || session.user.username);

  async function onVerify() {
    if (verify.disabled) return;
    alert.clear();
    verify.disabled = true;
    verify.textContent = 'Checking…';
    try {
      const { challenge } = await api.post('/api/face/challenge');
      const frames = await camera.grabFrames(FRAMES);
      camera.freeze(frames);
      camera.setStatus('Checking your face…');
      const form = new FormData();
      form.append('challenge', challenge);
      frames.forEach((frame, i) => form.append('frame', frame, `frame-${i + 1}.jpg`));
      await api.post('/api/face/verify', form);
      camera.setStatus('Verified.');
      navigate('/chat', { replace: true });
      return;
    } catch (err) {
      handleError(err);
    } finally {
      verify.textContent = 'Verify';
    }
    if (faceOff) {
      // Nothing the camera sees can pass now: turn it off rather than keep saying "press Verify".
      camera.stop();
      camera.showMessage('Face check disabled', 'The camera is off. It is needed again once your face is re-enrolled.', false);
      camera.setStatus('');
      return;
    }
    if (!disabled && Date.now() >= lockedUntil) verify.disabled = !cameraReady;
    if (camera.frames.length) camera.retake();
    // The button was disabled during the check, which drops keyboard focus: give it back.
    if (!verify.disabled) verify.focus();
  }

  function handleError(err) {
    if (!(err instanceof ApiError)) {
      alert.show('The camera could not take a picture. Make sure it is on, then press Verify again.');
      return;
    }
    if (err.code === 'locked_out' || (err.status === 429 && err.retryAfter)) {
      startLockout(err.retryAfter ?? 30);
      return;
    }
    if (err.code === 'face_disabled') {
      faceOff = true;
      disabled = true;
      verify.disabled = true;
    }
    if (err.code === 'unauthenticated') {
      alert.show(h('span', {}, 'Your sign-in expired (you have 5 minutes for the face check). ',
        h('a', { href: '/login', attrs: { 'data-link': '' }, text: 'Log in again' }), '.'));
      disabled = true;
      verify.disabled = true;
      return;
    }
    alert.show(describeError(err));
  }

  function startLockout(seconds) {
    lockedUntil = Date.now() + seconds * 1000;
    verify.disabled = true;
    alert.show(`${describeError(new ApiError(429, 'locked_out', ''))}`);
    countdown.hidden = false;
    const tick = () => {
      const left = (lockedUntil - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(timer);
        timer = null;
        countdown.hidden = true;
        alert.show('You can try the face check again now.', 'info');
        verify.disabled = disabled || !cameraReady;
        return;
      }
      countdown.textContent = `You can try again in ${formatCountdown(left)}.`;
    };
    clearInterval(timer);
    tick();
    timer = setInterval(tick, 250);
  }

  async function onLogout() {
    try {
      await api.post('/api/logout');
    } catch {
      // the session may already be gone; either way the user wants the login page
    }
    navigate('/login', { replace: true });
  }

  root.append(authShell({
    title: 'Face check',
    subtitle: `${who ? `Hi ${who}. ` : ''}Step 2 of 2: look at the camera, then press Verify.`,
  },
  alert.el,
  camera.el,
  countdown,
  verify,
  h('p', { className: 'field-hint', text: 'Your photos are only used for this check and are never stored.' }),
  h('p', { className: 'switch' }, 'Not you? ', logout)));

  camera.start().then((ok) => {
    cameraReady = ok;
    verify.disabled = !ok || disabled || Date.now() < lockedUntil;
  });
  return () => {
    clearInterval(timer);
    camera.stop();
  };
}
