// Login: username or email + password. Success leaves a password-level session; the face
// check comes next.
import { api } from '../api.js';
import { h, field, alertBox, formatCountdown } from '../dom.js';
import { describeError } from '../errors.js';
import { authShell } from '../layout.js';

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
  let timer = null;
  function waitOut(err) {
    const until = Date.now() + err.retryAfter * 1000;
    const why = err.code === 'locked_out'
      ? 'Too many failed sign-in attempts for this account.'
      : 'Too many sign-in attempts from this network.';
    // The alert is announced once; the ticking countdown beside it is not (aria-live off).
    alert.show(why);
    countdown.hidden = false;
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(timer);
        timer = null;
        countdown.hidden = true;
        alert.show('You can try again now.', 'info');
        submit.disabled = false;
        submit.textContent = 'Log in';
        return;
      }
      countdown.textContent = `You can try again in ${formatCountdown(left)}.`;
    };
    submit.disabled = true;
    // Not "Logging in…" for the whole wait: the button is simply off until the countdown ends.
    submit.textContent = 'Log in';
    tick();
    timer = setInterval(tick, 1000);
  }

  root.append(authShell({ title: 'Log in', subtitle: 'Step 1 of 2: your password. Then a quick face check.' },
    form,
    h('p', { className: 'switch' }, 'New here? ', h('a', { href: '/register', attrs: { 'data-link': '' }, text: 'Create an account' }))));
  return () => clearInterval(timer);
}
