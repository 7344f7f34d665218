// Settings: recent security events, re-enrol the face, delete the account, log out.
import { api, ApiError } from '../api.js';
import { h, setChildren, field, alertBox, formatTime, uid } from '../dom.js';
import { describeError } from '../errors.js';
import { brand } from '../layout.js';
import { LiveCheck } from '../live-check.js';
import { listOf } from '../chat-model.js';
import { shortAgent } from '../user-agent.js';
import {
  passkeysCard, totpCard, recoveryCard, passwordCard, emailCard, sessionsCard,
} from '../settings-security.js';

export const name = 'settings';

// The server's audit kinds; anything new is shown with its name made readable.
const EVENT_LABELS = {
  registered: 'Account created',
  login_succeeded: 'Password accepted',
  login_failed: 'Wrong password',
  password_locked_out: 'Password attempts locked',
  face_succeeded: 'Face check passed',
  face_failed: 'Face check failed',
  face_not_seen: 'Face check saw no single face (not counted)',
  face_locked_out: 'Face check locked for a while',
  face_disabled: 'Face check disabled',
  face_reenrolled: 'Face re-enrolled',
  logout: 'Logged out',
  second_factor_succeeded: 'Second step passed',
  second_factor_failed: 'Wrong code or passkey',
  second_factor_locked_out: 'Code attempts locked for a while',
  recovery_code_used: 'Recovery code used',
  factor_added: 'Sign-in method added',
  factor_removed: 'Sign-in method removed',
  password_changed: 'Password changed',
  email_changed: 'Email changed',
  sessions_ended: 'Sessions signed out',
};

function eventLabel(kind) {
  if (EVENT_LABELS[kind]) return EVENT_LABELS[kind];
  const text = String(kind || 'event').replace(/[._]/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * "Your data": downloads everything the server holds about the account (GET /api/me/export) as
 * a JSON file. The server rate-limits it; its answer says when the next one is possible.
 */
function dataCard({ user, fail }) {
  const alert = alertBox();
  const status = h('p', { className: 'field-hint', attrs: { role: 'status' } });
  const button = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Download my data' });
  button.addEventListener('click', async () => {
    alert.clear();
    button.disabled = true;
    status.textContent = 'Preparing your data…';
    try {
      const data = await api.get('/api/me/export');
      const file = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(file);
      const link = h('a', { href: url, attrs: { download: `facegate-export-${user.username || 'account'}.json` } });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      const messages = Array.isArray(data.messages) ? data.messages.length : 0;
      status.textContent = `Downloaded: your profile, sign-in methods, channels, ${messages} message${messages === 1 ? '' : 's'} you sent and your security events.`;
    } catch (err) {
      status.textContent = '';
      fail(alert, err);
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { className: 'card', attrs: { 'aria-labelledby': 'data-title' } },
    h('h2', { id: 'data-title', text: 'Your data' }),
    h('p', { className: 'field-hint', text: 'A copy of what this server holds about you, as a JSON file. Never in it: your face template, your password or any key.' }),
    alert.el, button, status);
}

export function render({ root, session, navigate, handleAuthError }) {
  document.title = 'Settings · facegate';
  const user = session.user || {};
  const fail = (alert, err) => {
    if (!handleAuthError(err)) alert.show(describeError(err));
  };
  const changed = () => loadEvents();

  // ---- security events ----
  const eventsAlert = alertBox();
  const eventsBody = h('tbody', {}, h('tr', {}, h('td', { colSpan: 5, text: 'Loading…' })));
  const eventsTable = h('div', { className: 'table-wrap', tabIndex: 0, attrs: { role: 'region', 'aria-label': 'Security events' } },
    h('table', { className: 'events' },
      h('caption', { className: 'visually-hidden', text: 'Recent sign-in and security events on your account' }),
      h('thead', {}, h('tr', {}, ['When', 'What', 'Details', 'IP address', 'Browser'].map((t) => h('th', { scope: 'col', text: t })))),
      eventsBody));

  async function loadEvents() {
    try {
      const data = await api.get('/api/me/security-events');
      const events = listOf(data, 'events');
      setChildren(eventsBody, events.length === 0
        ? h('tr', {}, h('td', { colSpan: 5, text: 'No events yet.' }))
        : events.map((e) => {
          const kind = e.kind ?? e.type ?? e.event;
          const bad = /fail|mismatch|lock|disabled/.test(String(kind));
          return h('tr', { className: bad ? 'event-bad' : '' },
            h('td', { text: formatTime(e.at ?? e.created_at ?? e.time) }),
            h('td', { text: eventLabel(kind) }),
            h('td', { className: 'muted', text: e.detail ?? '' }),
            h('td', { text: e.ip ?? '' }),
            h('td', { className: 'ua', title: e.user_agent ?? '', text: shortAgent(e.user_agent) }));
        }));
    } catch (err) {
      setChildren(eventsBody);
      fail(eventsAlert, err);
    }
  }

  // ---- re-enrol ----
  const enrolAlert = alertBox();
  const enrolPassword = field({ label: 'Current password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const enrolSubmit = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Save new face' });
  let live = null;
  let enrolment = null;
  const cameraSlot = h('div', { className: 'camera-slot' });
  const startEnrol = h('button', {
    type: 'button', className: 'btn btn-secondary', text: 'Re-enrol my face',
    on: {
      click: () => {
        startEnrol.hidden = true;
        enrolForm.hidden = false;
        enrolment = null;
        live = new LiveCheck({
          purpose: 'enrol',
          startText: 'Start face capture',
          label: 'Camera preview for your new face capture',
          idleText: 'Press "Start face capture", look at the camera and follow the prompts.',
          passedText: 'Enter your password and press "Save new face".',
          allowUpload: true,
          onPassed: async (result) => {
            enrolment = result.enrolment;
          },
        });
        live.startBtn.addEventListener('click', () => { enrolment = null; });
        cameraSlot.append(live.el);
        live.startBtn.focus();
      },
    },
  });
  const enrolForm = h('form', { className: 'form', hidden: true, on: { submit: onEnrol } },
    h('p', { className: 'field-hint', text: 'Your new face template replaces the old one. The camera pictures are not stored.' }),
    cameraSlot, enrolPassword.wrap, enrolSubmit);

  async function onEnrol(event) {
    event.preventDefault();
    enrolAlert.clear();
    if (!live || (!enrolment && live.uploads.length === 0)) {
      enrolAlert.show('Please capture your face first: press "Start face capture" and follow the prompts.');
      return;
    }
    const form = new FormData();
    form.append('password', enrolPassword.input.value);
    if (enrolment) form.append('enrolment', enrolment);
    else live.uploads.forEach((file) => form.append('face', file, file.name));
    enrolSubmit.disabled = true;
    try {
      await api.put('/api/me/face', form);
      enrolAlert.show('Your face has been re-enrolled.', 'success');
      enrolPassword.input.value = '';
      live.stop();
      cameraSlot.replaceChildren();
      live = null;
      enrolment = null;
      enrolForm.hidden = true;
      startEnrol.hidden = false;
      loadEvents();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'enrolment_invalid') {
        enrolment = null;
        live.reset();
      }
      fail(enrolAlert, err);
    } finally {
      enrolSubmit.disabled = false;
    }
  }

  // ---- delete ----
  const deleteAlert = alertBox();
  const deletePassword = field({ label: 'Password to confirm', name: 'delete-password', type: 'password', autocomplete: 'current-password' });
  const confirmId = uid('confirm');
  const confirm = h('input', { type: 'checkbox', id: confirmId, required: true });
  const deleteForm = h('form', { className: 'form', on: { submit: onDelete } },
    h('p', { text: 'This deletes your account, your face template, your sessions and your messages at once. It cannot be undone.' }),
    deletePassword.wrap,
    h('div', { className: 'consent-row' }, confirm, h('label', { htmlFor: confirmId, text: 'I understand that this cannot be undone.' })),
    h('button', { type: 'submit', className: 'btn btn-danger', text: 'Delete my account' }));

  async function onDelete(event) {
    event.preventDefault();
    deleteAlert.clear();
    try {
      await api.del('/api/me', { password: deletePassword.input.value });
      navigate('/login', { replace: true, notice: 'Your account has been deleted.' });
    } catch (err) {
      fail(deleteAlert, err);
    }
  }

  async function onLogout() {
    try {
      await api.post('/api/logout');
    } catch {
      // already logged out server-side is fine
    }
    navigate('/login', { replace: true, notice: 'You have been logged out.' });
  }

  const signedInAs = (u) => `Signed in as ${u.full_name || u.username || ''}${u.email ? ` (${u.email})` : ''}`;
  const subtitle = h('p', { className: 'subtitle', text: signedInAs(user) });
  root.append(h('div', { className: 'settings-page' },
    h('header', { className: 'settings-header' }, brand(),
      h('a', { href: '/chat', className: 'btn btn-link', attrs: { 'data-link': '' }, text: '‹ Back to chat' })),
    h('h1', { text: 'Settings' }),
    subtitle,
    h('section', { className: 'card', attrs: { 'aria-labelledby': 'events-title' } },
      h('h2', { id: 'events-title', text: 'Security events' }),
      h('p', { className: 'field-hint', text: 'Sign-ins, failed attempts and lockouts on your account. Anything you do not recognise? Change your password and re-enrol your face.' }),
      eventsAlert.el, eventsTable),
    h('section', { className: 'card', attrs: { 'aria-labelledby': 'face-title' } },
      h('h2', { id: 'face-title', text: 'Your face' }),
      session.factors && session.factors.face === 'disabled'
        ? h('p', { className: 'alert alert-warning', text: 'Your face check is disabled after too many failed attempts. Re-enrol your face to use it again.' })
        : null,
      enrolAlert.el, startEnrol, enrolForm),
    passwordCard({ session, fail }),
    passkeysCard({ fail, changed }),
    totpCard({ factors: session.factors, fail, changed }),
    recoveryCard({ factors: session.factors, fail, changed }),
    emailCard({ session, fail, onChanged: (u) => { subtitle.textContent = signedInAs(u); } }),
    sessionsCard({ fail }),
    dataCard({ user, fail }),
    h('section', { className: 'card', attrs: { 'aria-labelledby': 'session-title' } },
      h('h2', { id: 'session-title', text: 'Session' }),
      h('button', { type: 'button', className: 'btn btn-secondary', text: 'Log out', on: { click: onLogout } })),
    h('section', { className: 'card card-danger', attrs: { 'aria-labelledby': 'delete-title' } },
      h('h2', { id: 'delete-title', text: 'Delete account' }), deleteAlert.el, deleteForm)));

  loadEvents();
  return () => {
    if (live) live.stop();
  };
}
