// Login: username or email + password. Success leaves a password-level session; the face
// check comes next.
import { api, ApiError } from '../api.js';
import { h, field, alertBox, countdownIn } from '../dom.js';
import { describeError } from '../errors.js';
import { authShell } from '../layout.js';
import { getPasskey, passkeysSupported, describePasskeyFailure } from '../webauthn.js';

export const name = 'login';

export function render({ root, navigate, notice }) {
  document.title = 'Log in · facegate';
  const loginField = field({ label: 'Username or email', name: 'login', autocomplete: 'username' });
  const passwordField = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', className: 'btn btn-primary btn-block', text: 'Log in' });
  const countdown = h('p', { className: 'countdown', hidden: true, attrs: { 'aria-live': 'off' } });
  const form = h('form', { className: 'form', on: { submit: onSubmit } },
    alert.el, countdown, loginField.wrap, passwordField.wrap, submit);
  if (notice) alert.show(notice, 'info');

  // A passkey in place of the password: the browser offers the passkeys it holds for this site.
  const passkeyButton = h('button', { type: 'button', className: 'btn btn-secondary btn-block', text: 'Sign in with a passkey', on: { click: onPasskey } });
  passkeyButton.hidden = !passkeysSupported();
  async function onPasskey() {
    alert.clear();
    passkeyButton.disabled = true;
    try {
      const { ceremony, options } = await api.post('/api/login/passkey/start');
      const credential = await getPasskey(options);
      await api.post('/api/login/passkey/finish', { ceremony, credential });
      navigate('/face');
    } catch (err) {
      alert.show(err instanceof ApiError ? describeError(err) : describePasskeyFailure(err));
    } finally {
      passkeyButton.disabled = false;
    }
  }

  // A lost password: an emailed link (when the server sends email) or a recovery code begins the
  // sign-in, then the face or a passkey finishes it.
  const resetLogin = field({ label: 'Account name or email address', name: 'reset-login', autocomplete: 'username' });
  const resetSubmit = h('button', { type: 'submit', className: 'btn btn-secondary', text: 'Email me a link' });
  const resetForm = h('details', { className: 'recovery' },
    h('summary', { text: 'Forgot your password? Get a link by email' }),
    h('form', { className: 'form', on: { submit: onReset } },
      h('p', { className: 'field-hint', text: 'A link goes to your confirmed email address, if this server sends email. It is valid for 15 minutes; your face or a passkey is asked next.' }),
      resetLogin.wrap, resetSubmit));
  async function onReset(event) {
    event.preventDefault();
    alert.clear();
    resetSubmit.disabled = true;
    try {
      await api.post('/api/password-reset', { login: resetLogin.input.value.trim() });
      alert.show('If that account has a confirmed email address, a link is on its way. Check your inbox.', 'info');
    } catch (err) {
      alert.show(describeError(err));
    } finally {
      resetSubmit.disabled = false;
    }
  }

  const recoveryLogin = field({ label: 'Account name or email', name: 'recovery-login', autocomplete: 'username' });
  const recoveryCode = field({ label: 'Recovery code', name: 'recovery-code', autocomplete: 'off', hint: 'One of the codes you saved (like abcd-efgh-jkmn-pqrs). Your face or a passkey is asked next, then you set a new password.' });
  const recoverySubmit = h('button', { type: 'submit', className: 'btn btn-secondary', text: 'Continue with the code' });
  const recovery = h('details', { className: 'recovery' },
    h('summary', { text: 'Forgot your password? Use a recovery code' }),
    h('form', { className: 'form', on: { submit: onRecovery } }, recoveryLogin.wrap, recoveryCode.wrap, recoverySubmit));
  async function onRecovery(event) {
    event.preventDefault();
    alert.clear();
    recoverySubmit.disabled = true;
    try {
      const result = await api.post('/api/login/recovery', { login: recoveryLogin.input.value.trim(), code: recoveryCode.input.value.trim() });
      navigate('/face', { notice: `Recovery code accepted (${result.recovery_codes_left} left). Now confirm it is you.` });
    } catch (err) {
      if ((err.code === 'locked_out' || err.code === 'rate_limited') && err.retryAfter) {
        waitOut(err);
        return;
      }
      alert.show(describeError(err));
      recoveryCode.input.value = '';
    } finally {
      recoverySubmit.disabled = false;
    }
  }

  async function onSubmit(event) {
    event.preventDefault();
    alert.clear();
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      await api.post('/api/login', { login: loginField.input.value.trim(), password: passwordField.input.value });
      navigate('/face');
    } catch (err) {
      if ((err.code === 'locked_out' || err.code === 'rate_limited') && err.retryAfter) {
        waitOut(err);
        return;
      }
      alert.show(describeError(err));
      passwordField.input.value = '';
      passwordField.input.focus();
    } finally {
      if (!timer) {
        submit.disabled = false;
        submit.textContent = 'Log in';
      }
    }
  }

  // Password lockouts and per-address limits come with Retry-After: count it down live.
  let timer = null; // the running countdown's stop function
  function waitOut(err) {
    const why = err.code === 'locked_out'
      ? 'Too many failed sign-in attempts for this account.'
      : 'Too many sign-in attempts from this network.';
    // The alert is announced once; the ticking countdown beside it is not (aria-live off).
    alert.show(why);
    submit.disabled = true;
    // Not "Logging in…" for the whole wait: the button is simply off until the countdown ends.
    submit.textContent = 'Log in';
    if (timer) timer();
    timer = countdownIn(countdown, err.retryAfter, () => {
      timer = null;
      alert.show('You can try again now.', 'info');
      submit.disabled = false;
      submit.textContent = 'Log in';
    });
  }

  root.append(authShell({ title: 'Log in', subtitle: 'Step 1 of 2: your password (or a passkey). Then a quick face check.' },
    form,
    passkeyButton,
    resetForm,
    recovery,
    h('p', { className: 'switch' }, 'New here? ', h('a', { href: '/register', attrs: { 'data-link': '' }, text: 'Create an account' }))));
  return () => { if (timer) timer(); };
}
