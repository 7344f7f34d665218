// The pages emailed links open: /verify-email#TOKEN confirms the address; /reset-password#TOKEN
// begins a sign-in for a lost password (the face or a passkey follows, then a new password).
// The token travels in the fragment, so it reaches neither server logs nor Referer headers.
import { api } from '../api.js';
import { h, alertBox } from '../dom.js';
import { describeError } from '../errors.js';
import { authShell } from '../layout.js';

export const name = 'email-link';

export function render({ root, navigate }) {
  const reset = location.pathname.startsWith('/reset-password');
  document.title = `${reset ? 'Reset your password' : 'Confirm your email'} · facegate`;
  const alert = alertBox();
  const token = location.hash.slice(1);
  // The token is used once; it must not stay in the address bar or the history.
  history.replaceState(null, '', location.pathname);
  const status = h('p', { text: reset ? 'Checking your link…' : 'Confirming your address…' });
  root.append(authShell({ title: reset ? 'Reset your password' : 'Confirm your email' },
    alert.el, status,
    h('p', { className: 'switch' }, h('a', { href: '/login', attrs: { 'data-link': '' }, text: 'Go to the login page' }))));

  if (!/^[0-9a-f]{64}$/.test(token)) {
    status.textContent = '';
    alert.show('This link is incomplete. Open it again from the email, or ask for a new one.');
    return undefined;
  }
  const done = reset
    ? api.post('/api/password-reset/finish', { token }).then(() => {
      navigate('/face', { replace: true, notice: 'Link accepted. Now confirm it is you; then choose a new password.' });
    })
    : api.post('/api/email/verify', { token }).then(() => {
      status.textContent = 'Your email address is confirmed. Thank you.';
      alert.show('Email confirmed.', 'success');
    });
  done.catch((err) => {
    status.textContent = '';
    alert.show(err.code === 'challenge_invalid'
      ? 'This link has expired or was already used. Ask for a new one.'
      : describeError(err));
  });
  return undefined;
}
