// Login: username or email + password. Success leaves a password-level session; the face
// check comes next.
import { api } from '../api.js';
import { h, field, alertBox } from '../dom.js';
import { describeError } from '../errors.js';
import { authShell } from '../layout.js';

export const name = 'login';

export function render({ root, navigate, notice }) {
  document.title = 'Log in · facegate';
  const loginField = field({ label: 'Username or email', name: 'login', autocomplete: 'username' });
  const passwordField = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', className: 'btn btn-primary btn-block', text: 'Log in' });
  const form = h('form', { className: 'form', noValidate: false, on: { submit: onSubmit } },
    alert.el, loginField.wrap, passwordField.wrap, submit);
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
      alert.show(describeError(err));
      passwordField.input.value = '';
      passwordField.input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  }

  root.append(authShell({ title: 'Log in', subtitle: 'Step 1 of 2: your password. Then a quick face check.' },
    form,
    h('p', { className: 'switch' }, 'New here? ', h('a', { href: '/register', attrs: { 'data-link': '' }, text: 'Create an account' }))));
}
