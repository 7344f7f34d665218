// The second steps other than the face: a passkey, the password (after a passkey), a code from
// the authenticator app, or a recovery code. The server says which this sign-in accepts
// (`accepts` of GET /api/me); each one that succeeds raises the session to `full`.
import { api, ApiError } from './api.js';
import { h, field, alertBox, countdownIn } from './dom.js';
import { describeError } from './errors.js';
import { getPasskey, passkeysSupported, describePasskeyFailure } from './webauthn.js';

const LABELS = {
  passkey: 'Use a passkey',
  password: 'Enter your password',
  totp: 'Enter a code from your authenticator app',
  recovery_code: 'Enter a recovery code',
};

/**
 * The forms for every accepted step but the face. `onDone(result)` runs after the session is
 * full; `onExpired` when the sign-in ran out of time.
 */
export function otherSteps({ accepts, onDone, onExpired }) {
  const steps = accepts.filter((s) => s !== 'face' && LABELS[s]);
  const alert = alertBox();
  const countdown = h('p', { className: 'countdown', hidden: true, attrs: { 'aria-live': 'off' } });
  let stopCountdown = null;
  const buttons = [];

  function lockFor(seconds) {
    buttons.forEach((b) => { b.disabled = true; });
    if (stopCountdown) stopCountdown();
    stopCountdown = countdownIn(countdown, seconds, () => {
      stopCountdown = null;
      buttons.forEach((b) => { b.disabled = false; });
      alert.show('You can try again now.', 'info');
    });
  }

  function failed(err, input) {
    if (err instanceof ApiError && err.code === 'unauthenticated') {
      onExpired();
      return;
    }
    if (err instanceof ApiError && (err.code === 'locked_out' || err.code === 'rate_limited') && err.retryAfter) {
      alert.show(err.code === 'locked_out'
        ? 'Too many wrong codes for this account.'
        : 'Too many attempts from this network.');
      lockFor(err.retryAfter);
      return;
    }
    alert.show(err instanceof ApiError ? describeError(err) : describePasskeyFailure(err));
    if (input) {
      input.value = '';
      input.focus();
    }
  }

  function codeForm(step, { label, type = 'text', autocomplete, inputmode, path, hint }) {
    const input = field({ label, name: step, type, autocomplete, hint, attrs: { inputmode, spellcheck: 'false' } });
    const submit = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Continue' });
    buttons.push(submit);
    return h('form', {
      className: 'form second-step',
      attrs: { 'data-step': step },
      on: {
        submit: async (event) => {
          event.preventDefault();
          alert.clear();
          submit.disabled = true;
          try {
            const result = await api.post(path, step === 'password'
              ? { password: input.input.value }
              : { code: input.input.value.trim() });
            onDone(result);
          } catch (err) {
            failed(err, input.input);
          } finally {
            if (!stopCountdown) submit.disabled = false;
          }
        },
      },
    }, input.wrap, submit);
  }

  function passkeyButton() {
    const button = h('button', { type: 'button', className: 'btn btn-primary', text: 'Use my passkey' });
    buttons.push(button);
    if (!passkeysSupported()) {
      button.disabled = true;
      return h('div', { className: 'second-step', attrs: { 'data-step': 'passkey' } }, button,
        h('p', { className: 'field-hint', text: 'Passkeys need a secure page (https, or http://localhost).' }));
    }
    button.addEventListener('click', async () => {
      alert.clear();
      button.disabled = true;
      try {
        const { ceremony, options } = await api.post('/api/login/passkey/second/start');
        const credential = await getPasskey(options);
        onDone(await api.post('/api/login/passkey/second/finish', { ceremony, credential }));
      } catch (err) {
        failed(err);
      } finally {
        if (!stopCountdown) button.disabled = false;
      }
    });
    return h('div', { className: 'second-step', attrs: { 'data-step': 'passkey' } }, button);
  }

  const forms = {
    passkey: passkeyButton,
    password: () => codeForm('password', { label: 'Password', type: 'password', autocomplete: 'current-password', path: '/api/login/password' }),
    totp: () => codeForm('totp', {
      label: 'Authenticator code', autocomplete: 'one-time-code', inputmode: 'numeric', path: '/api/login/totp',
      hint: 'The 6-digit code your authenticator app shows for facegate.',
    }),
    recovery_code: () => codeForm('recovery_code', {
      label: 'Recovery code', autocomplete: 'off', path: '/api/login/recovery-code',
      hint: 'One of the codes you saved when you set them up (like abcd-efgh-jkmn-pqrs). Each works once.',
    }),
  };

  const el = h('div', { className: 'other-steps' }, alert.el, countdown,
    ...steps.map((step) => h('details', { className: 'step-choice', open: steps.length === 1 },
      h('summary', { text: LABELS[step] }), forms[step]())));
  el.hidden = steps.length === 0;
  return { el, stop: () => { if (stopCountdown) stopCountdown(); } };
}
