// Blocking a person and reporting a message. The people I blocked are kept here (loaded from
// GET /api/blocks) so the chat page hides their messages and their notifications; the server
// already keeps them out of my unread counts and search, and refuses their direct messages.
import { api } from './api.js';
import { h, uid } from './dom.js';
import { describeError } from './errors.js';
import { confirmAction } from './confirm.js';

/** Longest reason the server takes, in characters. */
const MAX_REASON = 500;

/** The people I blocked: `has(id)`, `load()`, `block(user)` and `unblock(user)` (both ask the server). */
export class Blocks {
  constructor() {
    this.ids = new Set();
  }

  has(id) {
    return this.ids.has(id);
  }

  async load() {
    const data = await api.get('/api/blocks');
    this.ids = new Set((data.users || []).map((u) => u.id));
  }

  async block(user) {
    await api.put(`/api/blocks/${user.id}`);
    this.ids.add(user.id);
  }

  async unblock(user) {
    await api.del(`/api/blocks/${user.id}`);
    this.ids.delete(user.id);
  }
}

/** Asks before blocking `name`; resolves true when confirmed. */
export function confirmBlock(name) {
  return confirmAction({
    title: `Block ${name}?`,
    message: `${name} will no longer be able to send you direct messages, and you will not see their messages anywhere. They are not told. You can unblock them later.`,
    confirmText: 'Block',
  });
}

/**
 * Asks why, then reports message `m` of channel `channelId`. Resolves true once reported,
 * false when cancelled.
 */
export function reportMessage(channelId, m) {
  return new Promise((resolve) => {
    const id = uid('report');
    const reason = h('textarea', { id: `${id}-reason`, className: 'composer-input', rows: 3, maxLength: MAX_REASON, required: true });
    const error = h('p', { className: 'message-edit-error', hidden: true, attrs: { role: 'alert' } });
    const send = h('button', { type: 'submit', className: 'btn btn-danger', text: 'Report' });
    let done = false;
    const form = h('form', { className: 'form', on: { submit: onSubmit } },
      h('h2', { id: `${id}-title`, text: 'Report this message' }),
      h('p', { text: 'The server\'s operators will read the message and your reason. The author is not told.' }),
      h('div', { className: 'field' }, h('label', { htmlFor: reason.id, text: 'Why are you reporting it?' }), reason),
      error,
      h('div', { className: 'dialog-actions' },
        h('button', { type: 'button', className: 'btn btn-secondary', text: 'Cancel', on: { click: () => dialog.close() } }),
        send));
    const dialog = h('dialog', { className: 'dialog', attrs: { 'aria-labelledby': `${id}-title` } }, form);

    async function onSubmit(event) {
      event.preventDefault();
      if (!reason.value.trim()) {
        error.hidden = false;
        error.textContent = 'Please say why, in a few words.';
        reason.focus();
        return;
      }
      send.disabled = true;
      try {
        await api.post(`/api/channels/${channelId}/messages/${m.id}/report`, { reason: reason.value });
        done = true;
        dialog.close();
      } catch (err) {
        send.disabled = false;
        error.hidden = false;
        error.textContent = describeError(err);
      }
    }

    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(done);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}
