// Settings cards for the sign-in factors and the account's sessions: passkeys, the
// authenticator app, recovery codes, the password, the email, and the devices signed in.
// Each card reloads what it shows from the server after a change.
import { api, ApiError } from './api.js';
import { h, setChildren, field, alertBox, formatTime } from './dom.js';
import { describeError } from './errors.js';
import { createPasskey, passkeysSupported, describePasskeyFailure } from './webauthn.js';
import { shortAgent } from './user-agent.js';

const FACTOR_NAMES = {
  password: 'password', passkey: 'passkey', face: 'face', totp: 'authenticator code', recovery_code: 'recovery code',
};

function card(id, title, ...children) {
  return h('section', { className: 'card', id, attrs: { 'aria-labelledby': `${id}-title` } },
    h('h2', { id: `${id}-title`, text: title }), ...children);
}

/** Passkeys: list, add (named), rename, remove. */
export function passkeysCard({ fail, changed }) {
  const alert = alertBox();
  const list = h('ul', { className: 'factor-list', attrs: { 'aria-label': 'Your passkeys' } });
  const nameField = field({ label: 'Name for the new passkey', name: 'passkey-name', hint: 'So you can tell your passkeys apart, e.g. "Laptop" or "Phone".', attrs: { maxlength: 64 } });
  nameField.input.value = 'My passkey';
  const add = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Add a passkey' });
  const form = h('form', { className: 'form', on: { submit: onAdd } }, nameField.wrap, add);
  if (!passkeysSupported()) {
    add.disabled = true;
    form.append(h('p', { className: 'field-hint', text: 'This browser or address cannot create passkeys (they need https, or http://localhost).' }));
  }

  async function load() {
    try {
      const { passkeys } = await api.get('/api/me/passkeys');
      setChildren(list, passkeys.length === 0
        ? h('li', { className: 'muted', text: 'No passkey yet.' })
        : passkeys.map(row));
    } catch (err) {
      fail(alert, err);
    }
  }

  function row(p) {
    const rename = h('button', { type: 'button', className: 'btn btn-link', text: 'Rename', attrs: { 'aria-label': `Rename passkey ${p.name}` } });
    const remove = h('button', { type: 'button', className: 'btn btn-link btn-danger-link', text: 'Remove', attrs: { 'aria-label': `Remove passkey ${p.name}` } });
    rename.addEventListener('click', async () => {
      const name = window.prompt('New name for this passkey', p.name);
      if (name === null) return;
      try {
        await api.patch(`/api/me/passkeys/${p.id}`, { name });
        alert.show('Passkey renamed.', 'success');
        load();
      } catch (err) {
        fail(alert, err);
      }
    });
    remove.addEventListener('click', async () => {
      if (!window.confirm(`Remove the passkey "${p.name}"? It will no longer sign you in.`)) return;
      try {
        await api.del(`/api/me/passkeys/${p.id}`);
        alert.show('Passkey removed.', 'success');
        load();
        changed();
      } catch (err) {
        fail(alert, err);
      }
    });
    const used = p.last_used_at ? `last used ${formatTime(p.last_used_at)}` : 'never used yet';
    return h('li', { className: 'factor-row' },
      h('span', { className: 'factor-name', text: p.name }),
      h('span', { className: 'muted', text: `added ${formatTime(p.created_at)}, ${used}` }),
      rename, remove);
  }

  async function onAdd(event) {
    event.preventDefault();
    alert.clear();
    add.disabled = true;
    add.textContent = 'Waiting for your authenticator…';
    try {
      const { ceremony, options } = await api.post('/api/me/passkeys/start');
      const credential = await createPasskey(options);
      await api.post('/api/me/passkeys/finish', { ceremony, name: nameField.input.value, credential });
      alert.show('Passkey added. You can now use it to sign in.', 'success');
      load();
      changed();
    } catch (err) {
      if (err instanceof ApiError) fail(alert, err);
      else alert.show(describePasskeyFailure(err));
    } finally {
      add.disabled = false;
      add.textContent = 'Add a passkey';
    }
  }

  load();
  return card('passkeys', 'Passkeys',
    h('p', { className: 'field-hint', text: 'A passkey signs you in with your device (fingerprint, face unlock, PIN or security key) instead of your password, or as the second step when your camera cannot be used.' }),
    alert.el, list, form);
}

/** The authenticator app: set up with a QR code (confirmed by a first code), or remove. */
export function totpCard({ factors, fail, changed }) {
  const alert = alertBox();
  const body = h('div', {});

  function showEnrolled() {
    const remove = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Remove the authenticator app' });
    remove.addEventListener('click', async () => {
      if (!window.confirm('Remove the authenticator app? Its codes will no longer sign you in.')) return;
      try {
        await api.del('/api/me/totp');
        alert.show('Authenticator app removed.', 'success');
        showNone();
        changed();
      } catch (err) {
        fail(alert, err);
      }
    });
    setChildren(body, h('p', { text: 'An authenticator app is set up.' }), remove);
  }

  function showNone() {
    const start = h('button', { type: 'button', className: 'btn btn-primary', text: 'Set up an authenticator app' });
    start.addEventListener('click', onStart);
    setChildren(body, start);
  }

  async function onStart() {
    alert.clear();
    try {
      const enrolment = await api.post('/api/me/totp');
      const code = field({ label: 'Code from the app', name: 'totp-confirm', autocomplete: 'one-time-code', attrs: { inputmode: 'numeric', maxlength: 6 } });
      const confirm = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Confirm' });
      const qr = h('img', {
        className: 'totp-qr', width: 200, height: 200, alt: 'QR code to scan with your authenticator app',
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`,
      });
      setChildren(body,
        h('p', { text: 'Scan this QR code with your authenticator app (or type the key below), then enter the 6-digit code it shows.' }),
        qr,
        h('p', {}, 'Key: ', h('code', { className: 'totp-secret', text: enrolment.secret })),
        h('form', {
          className: 'form',
          on: {
            submit: async (event) => {
              event.preventDefault();
              alert.clear();
              confirm.disabled = true;
              try {
                await api.post('/api/me/totp/confirm', { code: code.input.value.trim() });
                alert.show('Authenticator app set up. Its codes can now finish a sign-in.', 'success');
                showEnrolled();
                changed();
              } catch (err) {
                fail(alert, err);
                code.input.value = '';
                code.input.focus();
              } finally {
                confirm.disabled = false;
              }
            },
          },
        }, code.wrap, confirm));
      code.input.focus();
    } catch (err) {
      fail(alert, err);
    }
  }

  if (factors && factors.totp) showEnrolled();
  else showNone();
  return card('totp', 'Authenticator app',
    h('p', { className: 'field-hint', text: 'Codes from an app such as Aegis, Google Authenticator or 1Password can finish a sign-in when your camera cannot be used.' }),
    alert.el, body);
}

/** Recovery codes: how many are left; a new set is shown once. */
export function recoveryCard({ factors, fail, changed }) {
  const alert = alertBox();
  const status = h('p', {});
  const codesBox = h('div', { className: 'recovery-codes', hidden: true });
  const make = h('button', { type: 'button', className: 'btn btn-secondary' });
  let left = factors ? factors.recovery_codes_left : 0;

  function showStatus() {
    status.textContent = left > 0
      ? `You have ${left} unused recovery code${left === 1 ? '' : 's'}.`
      : 'You have no recovery codes.';
    make.textContent = left > 0 ? 'Make a new set (the old codes stop working)' : 'Make recovery codes';
  }

  make.addEventListener('click', async () => {
    if (left > 0 && !window.confirm('Make a new set of recovery codes? The codes you have now will stop working.')) return;
    alert.clear();
    try {
      const { codes } = await api.post('/api/me/recovery-codes');
      left = codes.length;
      showStatus();
      const text = codes.join('\n');
      const download = h('a', {
        className: 'btn btn-link', text: 'Download as a text file', download: 'facegate-recovery-codes.txt',
        href: `data:text/plain;charset=utf-8,${encodeURIComponent(`facegate recovery codes\n\n${text}\n`)}`,
      });
      const copy = h('button', { type: 'button', className: 'btn btn-link', text: 'Copy' });
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(text);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select the codes and copy them';
        }
      });
      setChildren(codesBox,
        h('p', { className: 'alert alert-warning', text: 'Save these codes now, somewhere safe: they are shown only once. Each code works once.' }),
        h('ol', { className: 'code-list' }, codes.map((c) => h('li', {}, h('code', { text: c })))),
        copy, download);
      codesBox.hidden = false;
      changed();
    } catch (err) {
      fail(alert, err);
    }
  });

  showStatus();
  return card('recovery', 'Recovery codes',
    h('p', { className: 'field-hint', text: 'A recovery code finishes a sign-in when nothing else works, or replaces a forgotten password (with your face or a passkey).' }),
    alert.el, status, make, codesBox);
}

/** Change the password: the current one (unless signed in with a recovery code) and a new one. */
export function passwordCard({ session, fail }) {
  const alert = alertBox();
  const viaRecovery = session.firstFactor === 'recovery_code';
  const current = viaRecovery ? null : field({ label: 'Old password', name: 'current-password', type: 'password', autocomplete: 'current-password' });
  const next = field({ label: 'New password', name: 'new-password', type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters. Your other sessions are signed out.' });
  const submit = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Change password' });
  const form = h('form', {
    className: 'form',
    on: {
      submit: async (event) => {
        event.preventDefault();
        alert.clear();
        submit.disabled = true;
        try {
          await api.post('/api/me/password', {
            current_password: current ? current.input.value : undefined,
            new_password: next.input.value,
          });
          alert.show('Password changed. Your other sessions were signed out.', 'success');
          if (current) current.input.value = '';
          next.input.value = '';
        } catch (err) {
          fail(alert, err);
        } finally {
          submit.disabled = false;
        }
      },
    },
  }, current && current.wrap, next.wrap, submit);
  return card('password', 'Password',
    viaRecovery ? h('p', { className: 'alert alert-info', text: 'You signed in with a recovery code: choose a new password now.' }) : null,
    alert.el, form);
}

/** Change the email: the password and the new address. */
export function emailCard({ session, fail, onChanged }) {
  const alert = alertBox();
  const email = field({ label: 'New email', name: 'new-email', type: 'email', autocomplete: 'email' });
  email.input.value = session.user.email || '';
  const password = field({ label: 'Password', name: 'email-password', type: 'password', autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Change email' });
  const form = h('form', {
    className: 'form',
    on: {
      submit: async (event) => {
        event.preventDefault();
        alert.clear();
        submit.disabled = true;
        try {
          const user = await api.put('/api/me/email', { email: email.input.value.trim(), password: password.input.value });
          alert.show(`Email changed to ${user.email}. Your other sessions were signed out.`, 'success');
          password.input.value = '';
          onChanged(user);
        } catch (err) {
          fail(alert, err);
        } finally {
          submit.disabled = false;
        }
      },
    },
  }, email.wrap, password.wrap, submit);
  return card('email', 'Email', alert.el, form);
}

/** The devices signed in: sign one out, or all the others. */
export function sessionsCard({ fail }) {
  const alert = alertBox();
  const body = h('tbody', {});
  const endOthers = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Sign out all other sessions' });

  async function load() {
    try {
      const { sessions } = await api.get('/api/me/sessions');
      endOthers.disabled = sessions.length <= 1;
      setChildren(body, sessions.map((s) => {
        const how = [s.first_factor, s.second_factor].filter(Boolean).map((f) => FACTOR_NAMES[f] || f).join(' + ');
        const end = s.current
          ? h('span', { className: 'muted', text: 'This session' })
          : h('button', {
            type: 'button', className: 'btn btn-link', text: 'Sign out',
            attrs: { 'aria-label': `Sign out the session of ${shortAgent(s.user_agent) || 'an unknown browser'}` },
            on: {
              click: async () => {
                try {
                  await api.del(`/api/me/sessions/${encodeURIComponent(s.id)}`);
                  alert.show('That session was signed out.', 'success');
                  load();
                } catch (err) {
                  fail(alert, err);
                }
              },
            },
          });
        return h('tr', { dataset: { current: s.current ? '1' : '' } },
          h('td', { title: s.user_agent ?? '', text: shortAgent(s.user_agent) || 'Unknown browser' }),
          h('td', { text: s.ip ?? '' }),
          h('td', { text: how + (s.level === 'full' ? '' : ' (not finished)') }),
          h('td', { text: formatTime(s.last_seen_at) }),
          h('td', {}, end));
      }));
    } catch (err) {
      fail(alert, err);
    }
  }

  endOthers.addEventListener('click', async () => {
    alert.clear();
    try {
      const { ended } = await api.post('/api/me/sessions/end-others');
      alert.show(`${ended} other session${ended === 1 ? ' was' : 's were'} signed out.`, 'success');
      load();
    } catch (err) {
      fail(alert, err);
    }
  });

  load();
  return card('sessions', 'Where you are signed in',
    alert.el,
    h('div', { className: 'table-wrap', tabIndex: 0, attrs: { role: 'region', 'aria-label': 'Sessions' } },
      h('table', { className: 'events' },
        h('thead', {}, h('tr', {}, ['Browser', 'IP address', 'Signed in with', 'Last active', ''].map((t) => h('th', { scope: 'col', text: t })))),
        body)),
    endOthers);
}
