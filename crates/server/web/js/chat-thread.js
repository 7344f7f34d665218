// A thread beside the conversation (over it on a phone): the message that started it, its
// replies, and a composer that answers in the thread. Replies arrive live. A thread has its own
// read position per person: reading the panel moves it, and the conversation's unread count
// never counts thread replies. Escape or Close shuts the panel and gives focus back.
import { api, ApiError } from './api.js';
import { h, setChildren, uid } from './dom.js';
import { describeError } from './errors.js';
import { normMessage, listOf, newClientId, displayName } from './chat-model.js';
import { mentionSuggester } from './chat-mentions.js';

const PAGE = 100;
const MAX_TEXT = 4000;

/** "1 reply", "3 replies". */
export function repliesLabel(n) {
  return n === 1 ? '1 reply' : `${n} replies`;
}

/**
 * `renderMessage(m, { pending, copy })` draws a message as the conversation does and keeps it
 * findable for edits, deletes and reactions (`copy`: a second drawing of the thread's first
 * message, not kept), `forget(id)` lets a reply drawn here go, `members()` are the
 * conversation's people (for @mentions), `titleOf(channelId)` names a conversation, `onRead(channelId, rootId, messageId)` reports that my
 * position in the thread moved, `onSent(m)` that a reply of mine was stored, `fail(err)` reports
 * what only the page can handle (an ended session).
 */
export function threadPanel({ meId, renderMessage, forget, members, titleOf, fail, onRead, onSent, onClose }) {
  let channelId = null;
  let root = null;
  let oldestId = null;
  let hasMore = false;
  let readId = 0;
  let replyTo = null;
  let opener = null;
  let loadToken = 0;
  const drawn = new Map(); // reply id or client id -> <li>

  const titleId = uid('thread-title');
  const where = h('p', { className: 'chat-subtitle' });
  const closeBtn = h('button', {
    type: 'button', className: 'btn btn-link thread-close', text: 'Close',
    attrs: { 'aria-label': 'Close thread' }, on: { click: () => close() },
  });
  const rootList = h('ol', { className: 'message-list thread-root', attrs: { 'aria-label': 'First message' } });
  const count = h('p', { className: 'thread-count' });
  const olderBtn = h('button', { type: 'button', className: 'btn btn-link thread-older', text: 'Show earlier replies', hidden: true, on: { click: loadOlder } });
  const list = h('ol', { className: 'message-list thread-replies' });
  const status = h('p', { className: 'thread-status', attrs: { role: 'status' } });
  const scroller = h('div', { className: 'thread-messages', tabIndex: 0, attrs: { 'aria-label': 'Thread messages' } },
    rootList, count, olderBtn, h('div', { attrs: { role: 'log', 'aria-live': 'polite', 'aria-label': 'Replies' } }, list), status);
  const textareaId = uid('thread-composer');
  const textarea = h('textarea', {
    id: textareaId, rows: 1, maxLength: MAX_TEXT, placeholder: 'Reply in thread', className: 'composer-input',
    on: {
      keydown: onKeyDown,
      input: () => { mentions.update(); autoGrow(); },
      click: () => mentions.update(),
    },
  });
  const mentions = mentionSuggester({ textarea, members, meId, onInserted: () => {} });
  const error = h('p', { className: 'thread-error', hidden: true, attrs: { role: 'alert' } });
  const replyLabel = h('p', { className: 'reply-bar-text' });
  const replyBar = h('div', { className: 'reply-bar', hidden: true },
    replyLabel, h('button', { type: 'button', className: 'btn btn-link', text: 'Cancel reply', on: { click: () => { setReply(null); textarea.focus(); } } }));
  const form = h('form', { className: 'composer thread-composer', on: { submit: (e) => { e.preventDefault(); sendCurrent(); } } },
    h('label', { htmlFor: textareaId, className: 'visually-hidden', text: 'Reply in thread' }),
    h('div', { className: 'composer-field' }, mentions.list, textarea),
    h('button', { type: 'submit', className: 'btn btn-primary', text: 'Send' }), mentions.status);
  const el = h('aside', {
    className: 'thread-panel', hidden: true, attrs: { 'aria-labelledby': titleId },
    on: {
      keydown: (e) => {
        if (e.key === 'Escape' && !e.defaultPrevented) {
          e.preventDefault();
          close();
        }
      },
    },
  },
  h('header', { className: 'thread-header' },
    h('div', { className: 'chat-heading' }, h('h2', { id: titleId, className: 'thread-title', text: 'Thread' }), where), closeBtn),
  scroller, error, replyBar, form);

  function isOpenOn(cid, rootId) {
    return !el.hidden && channelId === cid && root && root.id === rootId;
  }

  function showRoot() {
    setChildren(rootList, renderMessage(root, { copy: true }));
    const n = root.thread ? root.thread.replies : 0;
    count.textContent = n ? repliesLabel(n) : 'No replies yet';
  }

  /**
   * Opens the thread `rootMessage` started (drawn at once when known; a search hit knows only
   * its id), and with `show` scrolls to that reply once loaded.
   */
  async function open(cid, rootMessage, { focus = true, show = null } = {}) {
    // Opened again in place (after a reconnect): focus stays, and so does where it goes back to.
    const again = !el.hidden;
    if (again) closeQuietly();
    channelId = cid;
    root = rootMessage;
    readId = 0;
    oldestId = null;
    hasMore = false;
    if (!again) opener = document.activeElement;
    where.textContent = titleOf(cid) || '';
    el.hidden = false;
    error.hidden = true;
    setReply(null);
    setChildren(list);
    if (rootMessage.text !== undefined) showRoot();
    else setChildren(rootList);
    count.textContent = '';
    status.textContent = 'Loading replies…';
    if (focus) textarea.focus();
    const token = ++loadToken;
    try {
      const page = await api.get(`/api/channels/${cid}/threads/${rootMessage.id}?limit=${PAGE}`);
      if (token !== loadToken) return;
      root = { ...normMessage(page.root), thread: page.root.thread ?? root.thread ?? null };
      showRoot();
      readId = page.last_read_id ?? 0;
      hasMore = Boolean(page.has_more);
      for (const m of listOf(page, 'messages').map(normMessage)) add(m, { fromPage: true });
      olderBtn.hidden = !hasMore;
      status.textContent = '';
      scroller.scrollTop = scroller.scrollHeight;
      const target = show && drawn.get(show);
      if (target) {
        target.scrollIntoView({ block: 'center' });
        target.classList.add('flash');
        setTimeout(() => target.classList.remove('flash'), 2000);
      }
      markRead();
    } catch (err) {
      if (token !== loadToken) return;
      status.textContent = '';
      showError(err);
    }
  }

  async function loadOlder() {
    if (!hasMore || oldestId === null) return;
    olderBtn.disabled = true;
    const token = loadToken;
    try {
      const page = await api.get(`/api/channels/${channelId}/threads/${root.id}?limit=${PAGE}&before=${oldestId}`);
      if (token !== loadToken) return;
      hasMore = Boolean(page.has_more);
      const fromBottom = scroller.scrollHeight - scroller.scrollTop;
      for (const m of listOf(page, 'messages').map(normMessage)) add(m, { fromPage: true });
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
      olderBtn.hidden = !hasMore;
    } catch (err) {
      showError(err);
    } finally {
      olderBtn.disabled = false;
    }
  }

  /** A reply of this thread, from a page or live; one already drawn is left as it is. */
  function add(m, { fromPage = false } = {}) {
    if (drawn.has(m.id)) return;
    if (m.client_id && drawn.has(m.client_id)) {
      const pending = drawn.get(m.client_id);
      drawn.delete(m.client_id);
      const li = renderMessage(m);
      pending.replaceWith(li);
      drawn.set(m.id, li);
      return;
    }
    const near = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const li = renderMessage(m);
    drawn.set(m.id, li);
    // Keep id order: pages and live replies may interleave; unsent drafts stay last.
    let after = list.lastElementChild;
    while (after && (after.dataset.id === '' || Number(after.dataset.id) > m.id)) after = after.previousElementSibling;
    if (after) after.after(li);
    else list.prepend(li);
    oldestId = oldestId === null ? m.id : Math.min(oldestId, m.id);
    if (!fromPage && (near || m.author_id === meId)) scroller.scrollTop = scroller.scrollHeight;
  }

  /** A reply that arrived live (the page checked it belongs to this thread). */
  function onReply(m) {
    add(m);
    // The count under the first message, also when the conversation does not show that message.
    const t = root.thread || { replies: 0, last_reply_id: 0, last_reply_at: null };
    if (m.id > t.last_reply_id) {
      root = { ...root, thread: { replies: t.replies + 1, last_reply_id: m.id, last_reply_at: m.created_at } };
      showRoot();
    }
    if (m.author_id === meId) readId = Math.max(readId, m.id);
    else markRead();
  }

  /** The thread's first message changed (edit, reactions, delete, reply count). */
  function onRootChanged(m) {
    if (!root || m.id !== root.id) return;
    root = { ...root, ...m, thread: m.thread ?? root.thread };
    showRoot();
  }

  function newestReply() {
    let newest = 0;
    for (const id of drawn.keys()) if (typeof id === 'number' && id > newest) newest = id;
    return newest;
  }

  function markRead() {
    const newest = newestReply();
    if (el.hidden || !newest || newest <= readId || document.visibilityState !== 'visible') return;
    readId = newest;
    const cid = channelId;
    const rootId = root.id;
    onRead(cid, rootId, newest);
    api.post(`/api/channels/${cid}/threads/${rootId}/read`, { message_id: newest }).catch(() => {});
  }

  function setReply(m) {
    replyTo = m;
    replyBar.hidden = !m;
    if (m) replyLabel.textContent = `Replying to ${m.author_id === meId ? 'yourself' : displayName(m.author || { id: m.author_id })}: ${m.text.replace(/\s+/g, ' ').slice(0, 80)}`;
  }

  function showError(err) {
    if (fail(err)) return;
    error.hidden = false;
    error.textContent = describeError(err);
  }

  async function sendCurrent() {
    const text = textarea.value;
    if (!text.trim() || !root) return;
    if (text.length > MAX_TEXT) {
      showError({ code: 'message_too_long' });
      return;
    }
    error.hidden = true;
    const clientId = newClientId();
    const answered = replyTo;
    const cid = channelId;
    const rootId = root.id;
    textarea.value = '';
    autoGrow();
    mentions.close();
    setReply(null);
    const reply = answered ? { id: answered.id, author: answered.author || { id: answered.author_id }, text: answered.text, deleted: false } : null;
    const draft = { id: undefined, client_id: clientId, author_id: meId, text, created_at: Date.now(), reply_to: reply, attachments: [], thread_root: rootId };
    const pending = renderMessage(draft, { pending: true });
    drawn.set(clientId, pending);
    list.append(pending);
    scroller.scrollTop = scroller.scrollHeight;
    try {
      const data = await api.post(`/api/channels/${cid}/messages`, {
        text, client_id: clientId, thread_root: rootId, reply_to: answered ? answered.id : undefined,
      });
      const m = normMessage(data);
      if (isOpenOn(cid, rootId)) add(m);
      onSent(m);
    } catch (err) {
      drawn.delete(clientId);
      pending.remove();
      if (!isOpenOn(cid, rootId)) return;
      // Nothing typed is lost: the text goes back into the box with the reason beside it.
      if (!textarea.value) textarea.value = text;
      autoGrow();
      const offline = !(err instanceof ApiError) || err.status === 0;
      showError(offline ? { code: 'network' } : err);
      textarea.focus();
    }
  }

  function onKeyDown(event) {
    if (mentions.onKeyDown(event)) return;
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendCurrent();
    }
  }

  function autoGrow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
  }

  function closeQuietly() {
    loadToken += 1;
    for (const id of drawn.keys()) if (typeof id === 'number') forget(id);
    drawn.clear();
    setChildren(list);
    setChildren(rootList);
    el.hidden = true;
    root = null;
    channelId = null;
  }

  function close() {
    if (el.hidden) return;
    const rootId = root ? root.id : null;
    closeQuietly();
    onClose(rootId);
    if (opener && opener.isConnected) opener.focus();
  }

  return {
    el,
    open,
    close,
    closeQuietly,
    isOpenOn,
    onReply,
    onRootChanged,
    markRead,
    /** Quote `m` (a reply of this thread, or its first message) in the thread's composer. */
    quote(m) {
      setReply(m);
      textarea.focus();
    },
    get rootId() {
      return el.hidden || !root ? null : root.id;
    },
  };
}
