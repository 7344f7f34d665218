// Face check: the second login step. A press on "Start face check" opens the camera and the live
// check (live-check.js): the server asks for a few head movements and decides. A passed check
// gives a ticket that this page redeems for a full session. When the operator turned the live
// check off, the server has no /api/face/live and the page falls back to sending a few photos.
import { api, ApiError } from '../api.js';
import { h, alertBox, formatCountdown } from '../dom.js';
import { describeError } from '../errors.js';
import { authShell } from '../layout.js';
import { CameraPanel } from '../camera.js';
import { LiveCheck, probeLiveCheck } from '../live-check.js';
import { otherSteps } from '../second-step.js';

export const name = 'face';

const FRAMES = 3;

export function render({ root, navigate, notice, session }) {
  document.title = 'Face check · facegate';
  const alert = alertBox();
  const countdown = h('p', { className: 'countdown', hidden: true, attrs: { 'aria-live': 'off' } });
  const logout = h('button', { type: 'button', className: 'btn btn-link', text: 'Log out', on: { click: onLogout } });
  const slot = h('div', { className: 'face-slot', attrs: { 'aria-busy': 'true' } });
  let timer = null;
  let lockedUntil = 0;
  let photo = null; // the photo check, when the live check is off

  if (notice) alert.show(notice, 'info');
  const who = session && session.user && (session.user.full_name || session.user.username);
  const accepts = (session && session.accepts) || ['face'];
  const faceAccepted = accepts.includes('face');
  // A sign-in begun with a recovery code exists to set a new password: go there once full.
  const done = () => (session && session.firstFactor === 'recovery_code'
    ? navigate('/settings', { replace: true, notice: 'You are signed in with a recovery code. Set a new password below.' })
    : navigate('/chat', { replace: true }));
  const others = otherSteps({ accepts, onDone: done, onExpired: () => expired() });

  const live = new LiveCheck({
    purpose: 'verify',
    startText: 'Start face check',
    label: 'Camera preview for the face check',
    idleText: 'Press "Start face check". You will be asked to look at the camera and turn your head, one step at a time.',
    onPassed: async ({ ticket }) => {
      await api.post('/api/face/live/finish', { ticket });
      done();
    },
    onLockedOut: startLockout,
    onDisabled: () => alert.show(describeError(new ApiError(403, 'face_disabled', ''))),
    onRefused: (err) => {
      if (err.status === 404) {
        usePhotoCheck();
        return true;
      }
      if (err.code === 'unauthenticated') {
        expired();
        return true;
      }
      return false;
    },
  });
  // Which check this server runs, and whether one may start now (a lockout), is asked first.
  if (faceAccepted) probeLiveCheck('verify').then((err) => {
    if (err && err.status === 404) {
      usePhotoCheck();
      return;
    }
    slot.append(live.el);
    slot.removeAttribute('aria-busy');
    if (err && ['locked_out', 'face_disabled'].includes(err.code)) live.handleRefusal(err);
  });

  function expired() {
    alert.show(h('span', {}, 'Your sign-in expired (you have 5 minutes for the face check). ',
      h('a', { href: '/login', attrs: { 'data-link': '' }, text: 'Log in again' }), '.'));
    live.setBlocked(true);
  }

  function startLockout(seconds) {
    lockedUntil = Date.now() + seconds * 1000;
    live.setBlocked(true);
    if (photo) photo.verify.disabled = true;
    alert.show(describeError(new ApiError(429, 'locked_out', '')));
    countdown.hidden = false;
    const tick = () => {
      const left = (lockedUntil - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(timer);
        timer = null;
        countdown.hidden = true;
        alert.show('You can try the face check again now.', 'info');
        live.setBlocked(false);
        if (photo) photo.verify.disabled = !photo.ready;
        return;
      }
      countdown.textContent = `You can try again in ${formatCountdown(left)}.`;
    };
    clearInterval(timer);
    tick();
    timer = setInterval(tick, 250);
  }

  function usePhotoCheck() {
    live.stop();
    photo = photoCheck({ alert, navigate, startLockout, expired, lockedOut: () => Date.now() < lockedUntil });
    slot.replaceChildren(photo.el);
    slot.removeAttribute('aria-busy');
    subtitle.textContent = `${who ? `Hi ${who}. ` : ''}Step 2 of 2: look at the camera, then press Verify.`;
  }

  async function onLogout() {
    try {
      await api.post('/api/logout');
    } catch {
      // the session may already be gone; either way the user wants the login page
    }
    navigate('/login', { replace: true });
  }

  const otherWays = others.el.hidden ? null : h('section', { className: 'other-ways', attrs: { 'aria-labelledby': 'other-ways-title' } },
    h('h2', { id: 'other-ways-title', text: faceAccepted ? 'Cannot use your camera?' : 'Choose how to finish signing in' }),
    others.el);
  if (!faceAccepted) {
    slot.removeAttribute('aria-busy');
    if (others.el.hidden) {
      alert.show('This account has no second factor that can finish this sign-in (the face check is disabled and nothing else is set up). Ask the server operator for help.');
    }
  }
  const shell = authShell({
    title: faceAccepted ? 'Face check' : 'Second step',
    subtitle: `${who ? `Hi ${who}. ` : ''}Step 2 of 2: ${faceAccepted ? 'a short live check with your camera.' : 'one more factor.'}`,
  },
  alert.el,
  faceAccepted ? slot : null,
  countdown,
  faceAccepted ? h('p', { className: 'field-hint', text: 'The camera pictures are only used for this check and are never stored.' }) : null,
  otherWays,
  h('p', { className: 'switch' }, 'Not you? ', logout));
  const subtitle = shell.querySelector('.subtitle');
  root.append(shell);

  return () => {
    clearInterval(timer);
    others.stop();
    live.stop();
    if (photo) photo.camera.stop();
  };
}

/** The photo check of servers with `face.liveness = "off"`: a few frames to POST /api/face/verify. */
function photoCheck({ alert, navigate, startLockout, expired, lockedOut }) {
  const camera = new CameraPanel({
    autoCapture: false, manualCapture: false, frames: FRAMES, label: 'Camera preview for the face check',
    okText: 'Face found. Hold still and press Verify.',
  });
  const verify = h('button', { type: 'button', className: 'btn btn-primary btn-block', text: 'Verify', disabled: true, on: { click: onVerify } });
  const state = { el: h('div', { className: 'form' }, camera.el, verify), camera, verify, ready: false };
  let faceOff = false;

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
    if (!lockedOut() && !verify.dataset.off) verify.disabled = !state.ready;
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
      verify.dataset.off = '1';
    }
    if (err.code === 'unauthenticated') {
      verify.dataset.off = '1';
      expired();
      return;
    }
    alert.show(describeError(err));
  }

  camera.start().then((ok) => {
    state.ready = ok;
    verify.disabled = !ok || lockedOut() || Boolean(verify.dataset.off);
  });
  return state;
}
