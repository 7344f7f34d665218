// Files in the chat: the composer's attach button, pasting and dropping files, the list of
// uploads waiting to be sent, the files shown in a message, and the image viewer.
//
// A file is uploaded as soon as it is picked (POST /api/channels/{id}/attachments); the message
// then names the ids. Images come back re-encoded by the server with a thumbnail; any other file
// is only ever a download link (the server sends it as application/octet-stream).
import { api, ApiError } from './api.js';
import { h, setChildren } from './dom.js';
import { describeError } from './errors.js';

/** Most files one message carries (the server's limit). */
export const MAX_FILES = 10;

/** "2.4 MB", "830 KB", "12 bytes". */
export function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

// The server words size and pixel limits itself ("A file is at most 10 MB.").
function uploadError(err) {
  if (err instanceof ApiError && err.code === 'payload_too_large' && err.message) return err.message;
  return describeError(err);
}

/**
 * The uploads of the composer. `channelId()` is the open conversation, `onChange()` runs when
 * the list changes, `announce(text)` tells screen readers. Returns the attach button, the list
 * element, `add(files)`, `take()` (waits for the uploads and hands over the finished ones,
 * emptying the list), `clear()` and `busy()`.
 */
export function composerFiles({ channelId, onChange = () => {}, announce = () => {} }) {
  const items = []; // { file, li, promise, view, error }
  const input = h('input', {
    type: 'file', multiple: true, className: 'visually-hidden', tabIndex: -1,
    attrs: { 'aria-hidden': 'true' },
    on: { change: () => { add([...input.files]); input.value = ''; } },
  });
  const button = h('button', {
    type: 'button', className: 'btn btn-secondary composer-attach', text: '📎',
    attrs: { 'aria-label': 'Attach files', title: 'Attach files (or paste, or drop them here)' },
    on: { click: () => input.click() },
  });
  const list = h('ul', { className: 'composer-files', hidden: true, attrs: { 'aria-label': 'Files to send' } });

  function render() {
    list.hidden = items.length === 0;
    setChildren(list, items.map((it) => it.li));
    onChange();
  }

  function remove(item) {
    const at = items.indexOf(item);
    if (at >= 0) items.splice(at, 1);
    render();
  }

  function upload(item, id) {
    const form = new FormData();
    form.append('file', item.file, item.file.name || 'pasted file');
    item.promise = api.post(`/api/channels/${id}/attachments`, form).then((view) => {
      item.view = view;
      item.status.textContent = formatSize(view.size);
      item.li.classList.add('ready');
    }, (err) => {
      item.error = err;
      item.li.classList.add('failed');
      item.status.textContent = uploadError(err);
      announce(`${item.file.name}: ${uploadError(err)}`);
    });
  }

  function add(files) {
    const id = channelId();
    if (!id) return;
    for (const file of files) {
      if (items.length >= MAX_FILES) {
        announce(`A message carries at most ${MAX_FILES} files.`);
        break;
      }
      const status = h('span', { className: 'composer-file-status', text: 'Uploading…' });
      const item = { file, status, view: null, error: null, promise: null, li: null };
      item.li = h('li', { className: 'composer-file' },
        h('span', { className: 'composer-file-name', text: file.name || 'pasted file' }), status,
        h('button', {
          type: 'button', className: 'btn btn-link btn-small', text: 'Remove',
          attrs: { 'aria-label': `Remove ${file.name || 'pasted file'}` }, on: { click: () => remove(item) },
        }));
      items.push(item);
      upload(item, id);
    }
    render();
  }

  return {
    input,
    button,
    list,
    add,
    busy: () => items.some((it) => !it.view && !it.error),
    hasAny: () => items.length > 0,
    /** Waits for every upload; resolves with the uploaded views, or null when one failed. */
    async take() {
      await Promise.all(items.map((it) => it.promise));
      if (items.some((it) => it.error)) return null;
      const views = items.map((it) => it.view);
      items.length = 0;
      render();
      return views;
    },
    clear() {
      items.length = 0;
      render();
    },
  };
}

/** Files found in a paste or drop event (none for plain text). */
export function filesOf(dataTransfer) {
  if (!dataTransfer) return [];
  return [...(dataTransfer.files || [])];
}

/**
 * The files of a message: images as thumbnails that open the viewer, other files as download
 * links with their size. Null when there are none.
 */
export function attachmentList(attachments) {
  if (!attachments || attachments.length === 0) return null;
  return h('ul', { className: 'attachments', attrs: { 'aria-label': 'Files' } },
    attachments.map((a) => h('li', { className: `attachment attachment-kind-${a.kind}` },
      a.kind === 'image' && a.thumb_url
        ? h('button', {
          type: 'button', className: 'attachment-thumb',
          attrs: { 'aria-label': `Open image ${a.name}` },
          on: { click: (e) => openViewer(a, e.currentTarget) },
        }, h('img', { src: a.thumb_url, alt: a.name, loading: 'lazy', width: thumbSize(a).width, height: thumbSize(a).height }))
        : h('a', {
          href: a.url, className: 'attachment-file', download: a.name,
          attrs: { 'aria-label': `Download ${a.name}, ${formatSize(a.size)}` },
        }, h('span', { className: 'attachment-icon', attrs: { 'aria-hidden': 'true' }, text: '📄' }),
        h('span', { className: 'attachment-name', text: a.name }),
        h('span', { className: 'attachment-size', text: formatSize(a.size) })))));
}

// The thumbnail's box before it loads, so the list does not jump (the server fits 320 px).
function thumbSize(a) {
  const w = a.width || 320;
  const ht = a.height || 320;
  const scale = Math.min(1, 320 / Math.max(w, ht));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(ht * scale)) };
}

/** Shows an image attachment in a dialog (Escape or Close ends it; focus goes back to `from`). */
export function openViewer(a, from = null) {
  const titleId = `viewer-${a.id}`;
  const close = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Close', on: { click: () => dialog.close() } });
  const dialog = h('dialog', { className: 'dialog dialog-viewer', attrs: { 'aria-labelledby': titleId } },
    h('h2', { id: titleId, className: 'viewer-title', text: a.name }),
    h('img', { className: 'viewer-image', src: a.url, alt: a.name }),
    h('div', { className: 'dialog-actions' },
      h('a', { className: 'btn btn-secondary', href: `${a.url}?download=1`, download: a.name, text: 'Download' }),
      close));
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (from && from.isConnected) from.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  return dialog;
}
