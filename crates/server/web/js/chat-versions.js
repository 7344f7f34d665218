// A message's edit history: the "edited" mark is a button that opens a dialog with the text as
// it is now and each earlier version, newest first, with when it was replaced. The texts are
// rendered like messages (markup as DOM nodes, never HTML).
import { h, uid } from './dom.js';
import { api } from './api.js';
import { describeError } from './errors.js';
import { renderMarkup } from './chat-markup.js';
import { fullTimestamp } from './chat-time.js';

/** The "edited" button of message `m` (in channel `channelId`); `me` marks mentions of me. */
export function editedMark(m, channelId, me) {
  return h('button', {
    type: 'button', className: 'message-edited', text: 'edited',
    attrs: { 'aria-haspopup': 'dialog', 'aria-label': 'edited: show earlier versions' },
    on: { click: (e) => openVersions(m, channelId, me, e.currentTarget) },
  });
}

async function openVersions(m, channelId, me, opener) {
  const titleId = uid('versions-title');
  const status = h('p', { className: 'versions-status', attrs: { role: 'status' }, text: 'Loading earlier versions…' });
  const list = h('ol', { className: 'versions-list', attrs: { 'aria-labelledby': titleId } });
  const close = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Close', on: { click: () => dialog.close() } });
  const dialog = h('dialog', { className: 'dialog dialog-versions', attrs: { 'aria-labelledby': titleId } },
    h('h2', { id: titleId, text: 'Edit history' }), status, list, h('div', { className: 'dialog-actions' }, close));
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  try {
    const data = await api.get(`/api/channels/${channelId}/messages/${m.id}/versions`);
    const versions = Array.isArray(data?.versions) ? data.versions : [];
    const entry = (label, text) => h('li', { className: 'versions-entry' },
      h('p', { className: 'versions-when', text: label }),
      h('div', { className: 'message-text' }, renderMarkup(text, { me: me.username })));
    list.append(entry('Now', m.text), ...versions.slice().reverse()
      .map((v) => entry(`Until ${fullTimestamp(v.replaced_at)}`, v.text)));
    status.textContent = versions.length === 0
      ? 'No earlier version is kept.'
      : `${versions.length} earlier ${versions.length === 1 ? 'version' : 'versions'}, newest first.`;
  } catch (err) {
    status.textContent = describeError(err);
  }
}
