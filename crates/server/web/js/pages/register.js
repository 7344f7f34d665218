// Registration: account details, explicit consent to store a face template, and the live
// enrolment (live-check.js), started by a button once the fields are filled in: the server keeps
// three good frames and hands back an enrolment token that goes with the form. Without a usable
// camera, photos can be uploaded instead.
import { api, currentSession } from '../api.js';
import { h, field, alertBox, uid } from '../dom.js';
import { describeError, fieldForError } from '../errors.js';
import { ratePassword } from '../password.js';
import { authShell } from '../layout.js';
import { LiveCheck } from '../live-check.js';

export const name = 'register';

/** The password input with a live strength meter; shared with nothing else but kept apart for clarity. */
function passwordWithMeter(getContext) {
  const f = field({
    label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password',
    hint: 'At least 8 characters. Long phrases are best; very common passwords are refused.',
    attrs: { minlength: 8, maxlength: 128 },
  });
  const meter = h('meter', { className: 'strength-meter', min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, attrs: { 'aria-hidden': 'true' } });
  const label = h('span', { className: 'strength-label' });
  const line = h('p', { className: 'strength', attrs: { 'aria-live': 'polite' } }, meter, label);
  f.wrap.insertBefore(line, f.hint);
  const update = () => {
    const r = ratePassword(f.input.value, getContext());
    meter.value = r.score;
    label.textContent = [r.label && `${r.label}.`, r.message].filter(Boolean).join(' ');
    f.input.setCustomValidity(r.ok || !f.input.value ? '' : r.message);
    return r;
  };
  f.input.addEventListener('input', update);
  return { ...f, update };
}

export function render({ root, navigate }) {
  document.title = 'Create an account · facegate';
  const alert = alertBox();
  const username = field({ label: 'Username', name: 'username', autocomplete: 'username', hint: 'Letters, digits, dots, dashes or underscores.', attrs: { maxlength: 32, autocapitalize: 'none', spellcheck: 'false' } });
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email' });
  const fullName = field({ label: 'Full name', name: 'full_name', autocomplete: 'name', attrs: { maxlength: 100 } });
  const password = passwordWithMeter(() => ({ username: username.input.value, email: email.input.value }));

  const consentId = uid('consent');
  const consent = h('input', { type: 'checkbox', id: consentId, name: 'consent', required: true, attrs: { 'aria-describedby': `${consentId}-why` } });
  const consentBox = h('div', { className: 'consent' },
    h('div', { className: 'consent-row' }, consent,
      h('label', { htmlFor: consentId, text: 'I agree that facegate stores an encrypted face template of me and uses it to check my face when I log in.' })),
    h('p', { id: `${consentId}-why`, className: 'field-hint', text:
      'What is stored: a face template (128 numbers computed from your photos), encrypted on the server. '
      + 'Your photos are never stored; they are used once to compute the template and then discarded. '
      + 'Why: as the second step of logging in, so a stolen password alone cannot open your account. '
      + 'The template is deleted immediately when you delete your account.' }));

  const NOT_YET = 'Not captured yet.';
  const photoState = h('p', { className: 'field-hint photo-state', attrs: { 'aria-live': 'polite' }, text: NOT_YET });
  let enrolment = null;
  const live = new LiveCheck({
    purpose: 'enrol',
    startText: 'Start face capture',
    label: 'Camera preview for your face capture',
    idleText: 'When you are ready, press "Start face capture". Look at the camera, then follow the prompts.',
    passedText: 'You can now create your account.',
    allowUpload: true,
    onPassed: async (result) => {
      enrolment = result.enrolment;
      photoState.textContent = 'Face captured.';
      alert.clear();
    },
    // A server without the live check takes photos only.
    onRefused: (err) => err.status === 404 && live.offerUpload(),
    onUploads: (files) => {
      photoState.textContent = files.length ? `${files.length} photo${files.length === 1 ? '' : 's'} chosen.` : NOT_YET;
    },
  });
  const startCapture = live.startBtn;
  startCapture.addEventListener('click', () => {
    enrolment = null;
    photoState.textContent = NOT_YET;
  });

  const submit = h('button', { type: 'submit', className: 'btn btn-primary btn-block', text: 'Create account' });
  const inputs = { username: username.input, email: email.input, full_name: fullName.input, password: password.input, consent };

  const form = h('form', { className: 'form register-form', on: { submit: onSubmit } },
    h('div', { className: 'register-grid' },
      h('div', { className: 'register-fields' }, alert.el, username.wrap, email.wrap, fullName.wrap, password.wrap, consentBox),
      h('div', { className: 'register-camera' },
        h('h2', { className: 'panel-title', text: 'Your face' }), live.el, photoState)),
    submit);

  async function onSubmit(event) {
    event.preventDefault();
    alert.clear();
    for (const input of Object.values(inputs)) input.removeAttribute('aria-invalid');
    const rating = password.update();
    if (!rating.ok) return fail('password', rating.message);
    if (!consent.checked) return fail('consent', 'Please tick the consent box: we cannot store your face template without it.');
    if (!enrolment && live.uploads.length === 0) {
      alert.show('Please capture your face first: press "Start face capture" and follow the prompts.');
      if (!startCapture.hidden) startCapture.focus();
      return undefined;
    }
    const form = new FormData();
    form.append('username', username.input.value.trim());
    form.append('email', email.input.value.trim());
    form.append('full_name', fullName.input.value.trim());
    form.append('password', password.input.value);
    form.append('consent', 'true');
    if (enrolment) form.append('enrolment', enrolment);
    else live.uploads.forEach((file) => form.append('face', file, file.name));
    submit.disabled = true;
    submit.textContent = 'Creating your account…';
    try {
      await api.post('/api/register', form);
      const session = await currentSession().catch(() => null);
      if (session && session.level === 'full') navigate('/chat');
      else if (session) navigate('/face');
      else navigate('/login', { notice: 'Your account is ready. Log in to continue.' });
    } catch (err) {
      const which = fieldForError(err.code || '', err.message || '');
      fail(which, describeError(err));
      // A used or expired enrolment token cannot be sent again: capture anew.
      if (err.code === 'enrolment_invalid') {
        enrolment = null;
        photoState.textContent = NOT_YET;
        live.reset();
      }
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create account';
    }
    return undefined;
  }

  function fail(which, message) {
    alert.show(message);
    const input = which && inputs[which];
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  }

  root.append(authShell({ title: 'Create an account', subtitle: 'Your password and your face together protect your account.', wide: true },
    form,
    h('p', { className: 'switch' }, 'Already have an account? ', h('a', { href: '/login', attrs: { 'data-link': '' }, text: 'Log in' }))));
  return () => live.stop();
}
