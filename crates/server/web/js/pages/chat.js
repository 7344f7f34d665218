// Chat: channel list, message history with infinite scroll, composer, typing, read state and
// live updates over the WebSocket (with reconnect and catch-up).
import { api, currentSession, ApiError } from '../api.js';
import { h, setChildren, alertBox, toDate, uid } from '../dom.js';
import { describeError } from '../errors.js';
import { brand } from '../layout.js';
import { ChatSocket } from '../socket.js';
import { openNewConversation } from '../chat-dialog.js';
import { openGroupSettings } from '../chat-group.js';
import { confirmAction } from '../confirm.js';
import { messageActions } from '../chat-message-actions.js';
import { renderMarkup, mentionsIn } from '../chat-markup.js';
import { mentionSuggester } from '../chat-mentions.js';
import { headerActions } from '../chat-header-menu.js';
import { editedMark } from '../chat-versions.js';
import { dayKey, dayLabel, clockTime, fullTimestamp } from '../chat-time.js';
import { ChatNotifier, titleWithUnread } from '../chat-notify.js';
import { reactionBar, replyQuote } from '../chat-reactions.js';
import { composerFiles, filesOf, attachmentList } from '../chat-attachments.js';
import { messageSearch } from '../chat-search.js';
import { openSwitcher } from '../chat-switcher.js';
import { Blocks, confirmBlock, reportMessage } from '../chat-safety.js';
import { threadPanel, repliesLabel } from '../chat-thread.js';
import {
  normUser, normMessage, normChannel, listOf, displayName, others, channelTitle, compareActivity, newClientId,
} from '../chat-model.js';

export const name = 'chat';

function isoOf(value) {
  const d = toDate(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

const PAGE = 50;
const MAX_TEXT = 4000;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 6000;
const GROUP_MS = 5 * 60 * 1000;

export function render({ root, session, params, navigate, handleAuthError }) {
  const me = normUser(session.user);
  const notifier = new ChatNotifier();
  const blocks = new Blocks();
  const state = {
    channels: new Map(),
    activeId: null,
    oldestId: null,
    newestId: null,
    hasMore: false,
    loadingOlder: false,
    nodes: new Map(), // message id or client id -> <li>
    typing: new Map(), // channel id -> Map(user id -> expiry timer)
    presence: new Map(), // user id -> boolean
    reads: new Map(), // channel id -> Map(user id -> last read message id)
    users: new Map([[me.id, me]]),
    lastMarkedRead: new Map(),
    typingSentAt: 0,
    typingTimer: null,
    lastOwnId: null,
    groupPanel: null, // the open group settings dialog
    baseTitle: 'Chat · facegate', // the tab title without its unread count
    replyTo: null, // the message the composer answers
    unsent: new Map(), // client id -> a send that failed for want of a connection, retried on reconnect
    shown: new Map(), // message id -> the message as last drawn
    goingAway: null, // {id, why} while I leave or delete a group
    sending: false, // waiting for the composer's uploads before a send
    jumpAfterLoad: null, // a message to show once the conversation opening now has loaded
    switcher: null, // the open quick switcher
    threadReads: new Map(), // thread root id -> my read position in it, for the threads I follow
    channelsTimer: null, // a channel list reload soon (thread unread counts are the server's)
  };

  // ---- layout ----
  const alert = alertBox();
  // In the sidebar, so it is seen on a phone too, where leaving a conversation shows the list.
  const listNotice = alertBox();
  const connection = h('p', { className: 'connection', hidden: true, attrs: { role: 'status' } });
  const channelList = h('ul', { className: 'channel-list', attrs: { 'aria-label': 'Conversations' } });
  const newBtn = h('button', { type: 'button', className: 'btn btn-primary btn-block', text: 'New conversation', on: { click: onNewConversation } });
  const search = messageSearch({
    titleOf: (id) => (state.channels.has(id) ? channelTitle(state.channels.get(id), me.id) : null),
    onOpen: (hit) => showMessage(hit.channel_id, hit.message_id, hit.thread_root ?? null),
  });
  const switchBtn = h('button', {
    type: 'button', className: 'btn btn-link switcher-open', text: 'Go to… (Ctrl+K)',
    attrs: { 'aria-keyshortcuts': 'Control+K Meta+K' }, on: { click: onSwitcher },
  });
  const sidebar = h('nav', { className: 'chat-sidebar', attrs: { 'aria-label': 'Conversations' } },
    h('div', { className: 'sidebar-top' }, brand(),
      h('a', { href: '/settings', className: 'btn btn-link', attrs: { 'data-link': '' }, text: 'Settings' })),
    h('p', { className: 'me' }, h('span', { className: 'presence-dot online', attrs: { 'aria-hidden': 'true' } }), h('span', { text: displayName(me) })),
    newBtn, search.el, switchBtn, connection, listNotice.el, channelList, notifySettings());

  const back = h('button', { type: 'button', className: 'btn btn-link chat-back', text: '‹ Conversations', on: { click: () => navigate('/chat') } });
  const title = h('h2', { className: 'chat-title', id: uid('chat-title'), text: '' });
  const subtitle = h('p', { className: 'chat-subtitle' });
  const manageBtn = h('button', { type: 'button', className: 'btn btn-secondary chat-manage', text: 'Group settings', hidden: true, on: { click: onManageGroup } });
  // A direct conversation has no settings; it can only be deleted (for both people).
  const deleteDirectBtn = h('button', { type: 'button', className: 'btn btn-secondary chat-manage', text: 'Delete conversation', hidden: true, on: { click: onDeleteDirect } });
  // Blocking is done from a message's menu; a direct conversation with someone I blocked offers
  // the way back, also after a reload.
  const unblockBtn = h('button', { type: 'button', className: 'btn btn-secondary chat-manage', text: 'Unblock', hidden: true, on: { click: onUnblock } });
  const muteBtn = h('button', { type: 'button', className: 'btn btn-secondary chat-mute', text: 'Mute', attrs: { 'aria-pressed': 'false' }, on: { click: onToggleMute } });
  const headerMenu = headerActions([unblockBtn, muteBtn, manageBtn, deleteDirectBtn]);
  const messagesEl = h('ol', { className: 'message-list' });
  // The live region wraps the list (a role on the <ol> itself would take away its list semantics).
  const log = h('div', { attrs: { role: 'log', 'aria-live': 'polite', 'aria-labelledby': title.id } }, messagesEl);
  const olderStatus = h('p', { className: 'older-status', attrs: { role: 'status' } });
  const seen = h('p', { className: 'seen', hidden: true });
  const scroller = h('div', { className: 'messages', tabIndex: 0, attrs: { 'aria-label': 'Messages' }, on: { scroll: onScroll } },
    olderStatus, log, seen);
  const typingLine = h('p', { className: 'typing', attrs: { 'aria-live': 'polite' } });
  const textareaId = uid('composer');
  const textarea = h('textarea', {
    id: textareaId, rows: 1, maxLength: MAX_TEXT, placeholder: 'Write a message', className: 'composer-input',
    attrs: { 'aria-describedby': `${textareaId}-help` },
    on: {
      keydown: onKeyDown,
      input: onInput,
      paste: onPaste,
      // A caret moved into or out of an @name by mouse or arrow keys.
      click: () => mentions.update(),
      keyup: (e) => { if (['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) mentions.update(); },
    },
  });
  const mentions = mentionSuggester({
    textarea,
    members: () => state.channels.get(state.activeId)?.members ?? [],
    meId: me.id,
    onInserted: () => sendTyping(true),
  });
  const files = composerFiles({ channelId: () => state.activeId, announce: (text) => alert.show(text, 'info') });
  const sendBtn = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Send' });
  const replyLabel = h('p', { className: 'reply-bar-text' });
  const replyBar = h('div', { className: 'reply-bar', hidden: true },
    replyLabel, h('button', { type: 'button', className: 'btn btn-link', text: 'Cancel reply', on: { click: () => { setReply(null); textarea.focus(); } } }));
  const composer = h('form', { className: 'composer', on: { submit: (e) => { e.preventDefault(); sendCurrent(); } } },
    h('label', { htmlFor: textareaId, className: 'visually-hidden', text: 'Message' }),
    files.button, files.input, h('div', { className: 'composer-field' }, mentions.list, textarea), sendBtn,
    mentions.status,
    h('p', { id: `${textareaId}-help`, className: 'visually-hidden', text: 'Enter sends, Shift+Enter starts a new line. Type @ to mention someone. Paste or drop files to attach them.' }));
  const conversation = h('section', { className: 'chat-main', attrs: { 'aria-labelledby': title.id } },
    h('header', { className: 'chat-header' }, back, h('div', { className: 'chat-heading' }, title, subtitle), headerMenu.el),
    scroller, typingLine, replyBar, files.list, composer);
  const thread = threadPanel({
    meId: me.id,
    // Replies drawn in the panel are found like the conversation's (edits, deletes, reactions).
    renderMessage: (m, { pending = false, copy = false } = {}) => {
      const li = messageNode(m, { pending, copy });
      if (!pending && !copy && m.id !== undefined) state.nodes.set(m.id, li);
      return li;
    },
    forget: (id) => {
      state.nodes.delete(id);
      state.shown.delete(id);
      reactionsShown.delete(id);
    },
    members: () => state.channels.get(state.activeId)?.members ?? [],
    titleOf: (id) => (state.channels.has(id) ? channelTitle(state.channels.get(id), me.id) : ''),
    fail: handleAuthError,
    onRead: (channelId, rootId, messageId) => threadReadMoved(channelId, rootId, messageId),
    onSent: (m) => onThreadReply(m),
    onClose: () => {},
  });
  const chatBody = h('div', { className: 'chat-body', hidden: true }, conversation, thread.el);
  // Files dropped anywhere on the conversation go to the composer.
  conversation.addEventListener('dragover', (e) => {
    if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    conversation.classList.add('dropping');
  });
  conversation.addEventListener('dragleave', (e) => {
    if (!conversation.contains(e.relatedTarget)) conversation.classList.remove('dropping');
  });
  conversation.addEventListener('drop', (e) => {
    conversation.classList.remove('dropping');
    const dropped = filesOf(e.dataTransfer);
    if (dropped.length === 0) return;
    e.preventDefault();
    files.add(dropped);
    textarea.focus();
  });
  const empty = h('section', { className: 'chat-empty' },
    h('p', { text: 'Pick a conversation, or start a new one.' }));
  const layout = h('div', { className: 'chat', dataset: { view: 'list' } },
    h('h1', { className: 'visually-hidden', text: 'Chat' }), sidebar, h('div', { className: 'chat-pane' }, alert.el, empty, chatBody));
  conversation.hidden = true;
  root.append(layout);

  // ---- helpers ----
  function fail(err) {
    if (!handleAuthError(err)) alert.show(describeError(err));
  }

  const actions = messageActions({
    channelId: () => state.activeId,
    nodeOf: (id) => state.nodes.get(id),
    apply: (m) => {
      replaceMessage(m);
      const c = state.channels.get(m.channel_id ?? state.activeId);
      if (c && c.last_message && c.last_message.id === m.id) c.last_message = m;
      renderChannelList();
    },
    afterDelete: () => textarea.focus(),
    fail,
    reply: (m) => {
      // Inside a thread, a quote answers in the thread.
      if (m.thread_root) {
        thread.quote(m);
        return;
      }
      setReply(m);
      textarea.focus();
    },
    thread: (m) => openThread(m),
    report: async (m) => {
      if (await reportMessage(m.channel_id ?? state.activeId, m)) alert.show('Thank you. The server\'s operators will see your report.', 'info');
    },
    block: (m) => blockAuthor(authorOf(m)),
    react: (m, emoji) => {
      const current = (m.channel_id === state.activeId && reactionsShown.get(m.id)) || m.reactions || [];
      const mine = current.some((r) => r.emoji === emoji && r.user_ids.includes(me.id));
      toggleReaction(m.channel_id ?? state.activeId, m.id, emoji, mine);
    },
  });

  async function blockAuthor(user) {
    const name = displayName(user);
    if (!(await confirmBlock(name))) return;
    try {
      await blocks.block(user);
    } catch (err) {
      fail(err);
      return;
    }
    afterBlockChange(user.id);
    const undo = h('button', {
      type: 'button', className: 'btn btn-link', text: 'Undo',
      on: {
        click: async () => {
          try {
            await blocks.unblock(user);
            afterBlockChange(user.id);
            alert.show(`You unblocked ${name}.`, 'info');
          } catch (err) {
            fail(err);
          }
        },
      },
    });
    alert.show(h('span', {}, `You blocked ${name}. `, undo), 'info');
  }

  async function onUnblock() {
    const c = state.channels.get(state.activeId);
    const user = c && c.kind === 'direct' ? others(c, me.id)[0] : null;
    if (!user) return;
    try {
      await blocks.unblock(user);
    } catch (err) {
      fail(err);
      return;
    }
    afterBlockChange(user.id);
    alert.show(`You unblocked ${displayName(user)}.`, 'info');
  }

  // Their messages on screen, the header and the list (unread counts, previews) follow a block.
  function afterBlockChange(userId) {
    for (const m of [...state.shown.values()]) if (m.author_id === userId) replaceMessage(m);
    const c = state.channels.get(state.activeId);
    if (c) renderHeader(c);
    loadChannels();
  }

  // The reactions each shown message has now (live updates change them after it was drawn).
  const reactionsShown = new Map();

  async function toggleReaction(channelId, messageId, emoji, mine) {
    const route = `/api/channels/${channelId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`;
    try {
      const data = mine ? await api.del(route) : await api.put(route);
      if (channelId === state.activeId) showReactions(messageId, data.reactions);
    } catch (err) {
      fail(err);
    }
  }

  function reactionsNode(channelId, messageId, reactions) {
    return reactionBar(reactions, {
      meId: me.id,
      nameOf: (id) => displayName(state.users.get(id)),
      onToggle: (emoji, mine) => toggleReaction(channelId, messageId, emoji, mine),
    });
  }

  function showReactions(messageId, reactions) {
    const li = state.nodes.get(messageId);
    if (!li) return;
    reactionsShown.set(messageId, reactions);
    const old = li.querySelector(':scope > .reactions');
    const bar = reactionsNode(state.activeId, messageId, reactions);
    if (old && bar) old.replaceWith(bar);
    else if (old) old.remove();
    else if (bar) li.querySelector(':scope > .message-text').after(bar);
  }

  function setReply(m) {
    state.replyTo = m;
    replyBar.hidden = !m;
    if (m) replyLabel.textContent = `Replying to ${m.author_id === me.id ? 'yourself' : displayName(authorOf(m))}: ${m.text.replace(/\s+/g, ' ').slice(0, 80)}`;
  }

  // Shows a message of the open conversation: loads older history page by page until it is
  // there (the list stays one unbroken stretch up to the newest message), then highlights it for
  // a moment. A search hit may lie further back than a reply's quote, so it may load more.
  async function jumpTo(messageId, { pages = 40 } = {}) {
    const id = state.activeId;
    for (let guard = 0; guard < pages && !state.nodes.has(messageId) && state.hasMore && state.activeId === id; guard += 1) {
      await loadOlder();
    }
    const li = state.nodes.get(messageId);
    if (!li) {
      alert.show('That message is no longer in this conversation.', 'info');
      return;
    }
    li.scrollIntoView({ block: 'center' });
    li.classList.add('flash');
    li.tabIndex = -1;
    li.focus({ preventScroll: true });
    setTimeout(() => li.classList.remove('flash'), 2000);
  }

  function rememberUsers(list) {
    for (const u of list) {
      if (!u || u.id === undefined) continue;
      const known = state.users.get(u.id) || {};
      state.users.set(u.id, { ...known, ...Object.fromEntries(Object.entries(u).filter(([, v]) => v !== null && v !== '')) });
      if (u.online !== null && u.online !== undefined && !state.presence.has(u.id)) state.presence.set(u.id, Boolean(u.online));
    }
  }

  function upsertChannel(raw) {
    const c = normChannel(raw);
    const old = state.channels.get(c.id);
    if (old && !c.members_known) {
      if (old.members_known) c.members = old.members;
      c.members_known = old.members_known;
      if (c.member_count === null) c.member_count = old.member_count;
    }
    if (old && !c.last_message) c.last_message = old.last_message;
    // A channel view (rename, details) has no unread count: keep the one we have.
    if (old && raw.unread === undefined && raw.unread_count === undefined) c.unread = old.unread;
    if (old && raw.unread_threads === undefined) c.unread_threads = old.unread_threads;
    if (raw.muted !== undefined) notifier.setMuted(c.id, c.muted);
    rememberUsers(c.members);
    c.members = c.members.map((m) => state.users.get(m.id) || m);
    const reads = state.reads.get(c.id) || new Map();
    for (const m of c.members) if (m.last_read !== null && m.last_read !== undefined) reads.set(m.id, Math.max(reads.get(m.id) || 0, m.last_read));
    state.reads.set(c.id, reads);
    state.channels.set(c.id, c);
    return c;
  }

  // ---- channel list ----
  async function loadChannels() {
    try {
      const data = await api.get('/api/channels');
      const fresh = new Set();
      for (const raw of listOf(data, 'channels')) fresh.add(upsertChannel(raw).id);
      for (const id of [...state.channels.keys()]) if (!fresh.has(id)) state.channels.delete(id);
      renderChannelList();
    } catch (err) {
      fail(err);
    }
  }

  function renderChannelList() {
    const channels = [...state.channels.values()].sort(compareActivity);
    if (channels.length === 0) {
      setChildren(channelList, h('li', { className: 'muted channel-none', text: 'No conversations yet.' }));
      updateTitle();
      return;
    }
    setChildren(channelList, channels.map(channelRow));
    updateTitle();
  }

  // The tab title counts unread messages of conversations that are not muted; the open one
  // counts only while the tab is hidden (otherwise it is being read).
  function updateTitle() {
    let unread = 0;
    for (const c of state.channels.values()) {
      const reading = c.id === state.activeId && document.visibilityState === 'visible';
      if (!reading && !notifier.isMuted(c.id)) unread += c.unread;
    }
    document.title = titleWithUnread(state.baseTitle, unread);
  }

  function channelRow(c) {
    const active = c.id === state.activeId;
    const other = c.kind === 'direct' ? others(c, me.id)[0] : null;
    const online = other ? state.presence.get(other.id) === true : false;
    const last = c.last_message;
    const preview = last ? `${last.author_id === me.id ? 'You: ' : ''}${last.deleted ? 'Message deleted' : blocks.has(last.author_id) ? 'Hidden message' : textOrFiles(last)}` : 'No messages yet';
    const unread = active ? 0 : c.unread;
    // The link's accessible name is its visible text plus hidden words for what the dot and
    // the badge show, so speech and screen readers name it as it reads.
    return h('li', {},
      h('a', {
        href: `/chat/${c.id}`, className: `channel${active ? ' active' : ''}${unread ? ' has-unread' : ''}`,
        attrs: { 'data-link': '', 'aria-current': active ? 'page' : null },
      },
      c.kind === 'direct'
        ? h('span', { className: `presence-dot ${online ? 'online' : 'offline'}`, attrs: { 'aria-hidden': 'true' } })
        : h('span', { className: 'group-mark', attrs: { 'aria-hidden': 'true' }, text: '#' }),
      h('span', { className: 'channel-text' },
        h('span', { className: 'channel-name' }, channelTitle(c, me.id),
          h('span', { className: 'visually-hidden', text: other ? (online ? ', online' : ', offline') : `, group of ${c.members_known ? c.members.length : (c.member_count ?? c.members.length)}` }),
          notifier.isMuted(c.id) ? h('span', { className: 'muted-mark', text: ' 🔕', attrs: { 'aria-hidden': 'true' } }) : null,
          notifier.isMuted(c.id) ? h('span', { className: 'visually-hidden', text: ', muted' }) : null),
        h('span', { className: 'channel-preview', text: preview })),
      c.unread_threads ? h('span', { className: 'thread-badge', attrs: { 'aria-hidden': 'true' }, text: `🧵 ${c.unread_threads > 99 ? '99+' : c.unread_threads}` }) : null,
      c.unread_threads ? h('span', { className: 'visually-hidden', text: `, ${c.unread_threads} ${c.unread_threads === 1 ? 'thread' : 'threads'} with new replies` }) : null,
      unread ? h('span', { className: 'badge', attrs: { 'aria-hidden': 'true' }, text: unread > 99 ? '99+' : String(unread) }) : null,
      unread ? h('span', { className: 'visually-hidden', text: `, ${unread} unread` }) : null));
  }

  // ---- conversation ----
  async function selectChannel(id) {
    clearTyping();
    thread.closeQuietly();
    state.activeId = id;
    layout.dataset.view = id ? 'conversation' : 'list';
    chatBody.hidden = !id;
    if (!id) {
      conversation.hidden = true;
      empty.hidden = false;
      state.baseTitle = 'Chat · facegate';
      renderChannelList();
      return;
    }
    empty.hidden = true;
    conversation.hidden = false;
    alert.clear();
    listNotice.clear();
    setChildren(messagesEl);
    state.nodes.clear();
    state.oldestId = null;
    state.newestId = null;
    state.hasMore = false;
    state.lastOwnId = null;
    reactionsShown.clear();
    state.shown.clear();
    state.unsent.clear();
    setReply(null);
    files.clear();
    seen.hidden = true;
    olderStatus.textContent = 'Loading messages…';
    try {
      const details = await api.get(`/api/channels/${id}`);
      if (state.activeId !== id) return;
      upsertChannel(details.channel ?? details);
    } catch (err) {
      if (state.activeId !== id) return;
      olderStatus.textContent = '';
      fail(err);
      return;
    }
    const channel = state.channels.get(id);
    renderHeader(channel);
    renderChannelList();
    const page = await fetchMessages(id, {});
    if (state.activeId !== id || !page) return;
    for (const m of page) appendMessage(m, { stick: true });
    olderStatus.textContent = state.hasMore ? '' : 'This is the start of the conversation.';
    scrollToBottom();
    updateSeen();
    markRead();
    textarea.focus();
    fillScreen();
    if (state.jumpAfterLoad) {
      const target = state.jumpAfterLoad;
      state.jumpAfterLoad = null;
      if (typeof target === 'object') openThread({ id: target.threadRoot, channel_id: id }, { show: target.messageId });
      else await jumpTo(target, { pages: 200 });
    }
  }

  // A search hit: its conversation, scrolled to the message; a reply in a thread opens the thread.
  function showMessage(channelId, messageId, threadRoot = null) {
    if (channelId === state.activeId) {
      if (threadRoot) openThread({ id: threadRoot, channel_id: channelId }, { show: messageId });
      else jumpTo(messageId, { pages: 200 });
      return;
    }
    state.jumpAfterLoad = threadRoot ? { threadRoot, messageId } : messageId;
    navigate(`/chat/${channelId}`);
  }

  function onSwitcher() {
    if (state.switcher) return;
    state.switcher = openSwitcher({
      meId: me.id,
      conversations: () => [...state.channels.values()].sort(compareActivity).map((c) => ({
        id: c.id, title: channelTitle(c, me.id), kind: c.kind, peerId: c.kind === 'direct' ? (others(c, me.id)[0] || {}).id : null,
      })),
      onConversation: (id) => navigate(`/chat/${id}`),
      onPerson: async (user) => {
        try {
          const created = await api.post('/api/channels', { kind: 'direct', members: [user.id] });
          const c = upsertChannel(created.channel ?? created);
          renderChannelList();
          navigate(`/chat/${c.id}`);
        } catch (err) {
          fail(err);
        }
      },
    });
    state.switcher.addEventListener('close', () => {
      state.switcher = null;
      // Opening a conversation focuses its composer; otherwise focus goes back where it was.
      if (document.activeElement === document.body) (state.activeId ? textarea : switchBtn).focus();
    });
  }

  const onShortcut = (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'k') {
      e.preventDefault();
      onSwitcher();
    }
  };
  document.addEventListener('keydown', onShortcut);

  function renderHeader(channel) {
    if (channel.id !== state.headerChannelId) headerMenu.close();
    state.headerChannelId = channel.id;
    manageBtn.hidden = channel.kind !== 'group';
    const peer = channel.kind === 'direct' ? others(channel, me.id)[0] : null;
    unblockBtn.hidden = !(peer && blocks.has(peer.id));
    deleteDirectBtn.hidden = channel.kind !== 'direct';
    title.textContent = channelTitle(channel, me.id);
    state.baseTitle = `${title.textContent} · facegate`;
    updateTitle();
    const muted = notifier.isMuted(channel.id);
    muteBtn.textContent = muted ? 'Unmute' : 'Mute';
    muteBtn.setAttribute('aria-pressed', String(muted));
    if (channel.kind === 'direct') {
      const other = others(channel, me.id)[0];
      const online = other && state.presence.get(other.id) === true;
      subtitle.textContent = other ? `@${other.username} · ${online ? 'online' : 'offline'}` : '';
    } else {
      subtitle.textContent = [...others(channel, me.id).map(displayName), 'you'].join(', ');
    }
  }

  async function fetchMessages(id, { before, after }) {
    const q = new URLSearchParams({ limit: String(after ? 100 : PAGE) });
    if (before) q.set('before', before);
    if (after) q.set('after', after);
    try {
      const data = await api.get(`/api/channels/${id}/messages?${q}`);
      const list = listOf(data, 'messages').map(normMessage).filter((m) => m && m.id !== undefined);
      list.sort((a, b) => a.id - b.id);
      for (const r of listOf(data, 'thread_reads')) state.threadReads.set(r.root_id, Math.max(state.threadReads.get(r.root_id) ?? 0, r.last_read_id));
      if (!after) state.hasMore = typeof data.has_more === 'boolean' ? data.has_more : list.length >= PAGE;
      return list;
    } catch (err) {
      fail(err);
      return null;
    }
  }

  async function loadOlder() {
    const id = state.activeId;
    if (!id || !state.hasMore || state.loadingOlder || state.oldestId === null) return;
    state.loadingOlder = true;
    olderStatus.textContent = 'Loading earlier messages…';
    const page = await fetchMessages(id, { before: state.oldestId });
    state.loadingOlder = false;
    if (state.activeId !== id || !page) return;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const frag = document.createDocumentFragment();
    for (const m of page) {
      if (state.nodes.has(m.id)) continue;
      const li = messageNode(m);
      state.nodes.set(m.id, li);
      frag.append(li);
    }
    const oldFirst = messagesEl.firstElementChild;
    messagesEl.prepend(frag);
    for (const li of messagesEl.children) {
      groupWithPrevious(li);
      if (li === oldFirst) break;
    }
    refreshDays();
    if (page.length) state.oldestId = Math.min(state.oldestId, page[0].id);
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
    olderStatus.textContent = state.hasMore ? '' : 'This is the start of the conversation.';
    fillScreen();
  }

  // Keep loading history until the list can scroll (or there is no more), so the scroll-up
  // trigger is reachable on tall screens.
  function fillScreen() {
    if (state.hasMore && scroller.scrollHeight <= scroller.clientHeight + 20) loadOlder();
  }

  function onScroll() {
    if (scroller.scrollTop < 120) loadOlder();
    if (nearBottom()) markRead();
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // A message's text, or what it carries when it has none (a photo without a caption).
  function textOrFiles(m) {
    if (m.text || !m.attachments || m.attachments.length === 0) return m.text;
    return `📎 ${m.attachments.map((a) => a.name).join(', ')}`;
  }

  function authorOf(m) {
    if (m.author) rememberUsers([m.author]);
    return state.users.get(m.author_id) || m.author || { id: m.author_id };
  }

  // `copy`: the thread panel's drawing of a thread's first message, without its tools.
  function messageNode(m, { pending = false, copy = false } = {}) {
    const mine = m.author_id === me.id;
    if (!mine && !m.deleted && blocks.has(m.author_id)) return hiddenNode(m);
    // Markup is built as DOM nodes from the text (chat-markup.js), never parsed as HTML.
    const body = m.deleted
      ? h('div', { className: 'message-text' }, h('p', { className: 'md-p', text: 'This message was deleted.' }))
      : h('div', { className: 'message-text', hidden: m.text === '' && (m.attachments || []).length > 0 }, renderMarkup(m.text, { me: me.username }));
    const mentionsMe = !mine && !m.deleted && mentionsIn(m.text).includes(me.username.toLowerCase());
    const meta = h('p', { className: 'message-meta' },
      h('span', { className: 'message-author', text: mine ? 'You' : displayName(authorOf(m)) }),
      h('time', {
        dateTime: isoOf(m.created_at), title: pending ? null : fullTimestamp(m.created_at),
        text: pending ? 'Sending…' : clockTime(m.created_at),
      }));
    const sent = !pending && !copy && !m.deleted && m.id !== undefined;
    if (m.id !== undefined && !pending) state.shown.set(m.id, m);
    if (sent) reactionsShown.set(m.id, m.reactions);
    const threadLink = !pending && !copy && !m.thread_root && m.thread && m.thread.replies > 0 ? threadButton(m) : null;
    const nameOf = (u) => (u && u.id === me.id ? 'you' : displayName(state.users.get(u && u.id) || u));
    return h('li', {
      className: `message${mine ? ' mine' : ''}${pending ? ' pending' : ''}${m.deleted ? ' deleted' : ''}${mentionsMe ? ' mentions-me' : ''}`,
      dataset: { id: m.id ?? '', author: m.author_id ?? '', at: toDate(m.created_at).getTime() || 0 },
    }, meta, replyQuote(m.reply_to, { nameOf, onJump: jumpTo }), body,
    m.deleted ? null : attachmentList(m.attachments),
    sent ? reactionsNode(m.channel_id ?? state.activeId, m.id, m.reactions) : null,
    threadLink,
    // Outside the meta line, which follow-up messages hide: an edit shows on every bubble.
    m.edited && !m.deleted ? h('p', { className: 'message-edited-line' }, sent ? editedMark(m, m.channel_id ?? state.activeId, me) : 'edited') : null,
    sent ? actions.tools({ ...m, channel_id: m.channel_id ?? state.activeId }, { mine }) : null);
  }

  // "💬 3 replies · new" under a message that started a thread: opens the thread.
  function threadButton(m) {
    const unread = threadUnread(m);
    const last = m.thread.last_reply_at ? ` · last ${clockTime(m.thread.last_reply_at)}` : '';
    // The name is the visible text (the emoji hidden from speech) and what the click does.
    return h('button', {
      type: 'button', className: `btn btn-link thread-link${unread ? ' unread' : ''}`,
      on: { click: () => openThread(m) },
    }, h('span', { attrs: { 'aria-hidden': 'true' }, text: '💬 ' }), repliesLabel(m.thread.replies),
    unread ? h('span', { className: 'thread-new', text: ' · new' }) : null, last,
    h('span', { className: 'visually-hidden', text: ', open thread' }));
  }

  // A thread I follow (started, opened or answered) with a reply after my read position in it.
  function threadUnread(m) {
    const read = state.threadReads.get(m.id);
    const following = read !== undefined || m.author_id === me.id;
    return following && Boolean(m.thread) && m.thread.last_reply_id > (read ?? 0);
  }

  function openThread(m, { show = null } = {}) {
    const channelId = m.channel_id ?? state.activeId;
    const root = state.shown.get(m.id) || m;
    thread.open(channelId, { ...root, channel_id: channelId }, { show });
  }

  // A reply in a thread (live, or my own just stored): the root's count, my following of the
  // thread, the open panel, and the list's thread counts.
  function onThreadReply(m) {
    const rootId = m.thread_root;
    const shownRoot = m.channel_id === state.activeId ? state.shown.get(rootId) : null;
    if (m.author_id === me.id) state.threadReads.set(rootId, Math.max(state.threadReads.get(rootId) ?? 0, m.id));
    else if (shownRoot && shownRoot.author_id === me.id && !state.threadReads.has(rootId)) state.threadReads.set(rootId, 0);
    if (shownRoot) {
      const t = shownRoot.thread || { replies: 0, last_reply_id: 0, last_reply_at: null };
      // A retried send is announced again: count each reply once.
      if (m.id > t.last_reply_id) replaceMessage({ ...shownRoot, thread: { replies: t.replies + 1, last_reply_id: m.id, last_reply_at: m.created_at } });
    }
    if (thread.isOpenOn(m.channel_id, rootId)) thread.onReply(m);
    if (m.author_id !== me.id) refreshChannelsSoon();
  }

  function threadReadMoved(channelId, rootId, messageId) {
    state.threadReads.set(rootId, Math.max(state.threadReads.get(rootId) ?? 0, messageId));
    const root = channelId === state.activeId ? state.shown.get(rootId) : null;
    if (root) replaceMessage(root);
    refreshChannelsSoon();
  }

  // The list's thread counts are worked out by the server; many replies make one reload.
  function refreshChannelsSoon() {
    clearTimeout(state.channelsTimer);
    state.channelsTimer = setTimeout(loadChannels, 400);
  }

  // A message of someone I blocked: its place in the list, nothing of what it says.
  function hiddenNode(m) {
    if (m.id !== undefined) state.shown.set(m.id, m);
    return h('li', {
      className: 'message blocked-message',
      dataset: { id: m.id ?? '', author: m.author_id ?? '', at: toDate(m.created_at).getTime() || 0 },
    }, h('p', { className: 'message-text', text: 'A message from someone you blocked.' }));
  }

  // Consecutive messages by one author within a few minutes (and on one day) show the name and
  // time once.
  function groupWithPrevious(li) {
    if (!li || li.classList.contains('day-separator')) return;
    const prev = previousMessage(li);
    const same = prev && prev.dataset.author === li.dataset.author
      && Math.abs(Number(li.dataset.at) - Number(prev.dataset.at)) < GROUP_MS
      && dayKey(Number(li.dataset.at)) === dayKey(Number(prev.dataset.at));
    li.classList.toggle('continued', Boolean(same));
  }

  function previousMessage(li) {
    let prev = li.previousElementSibling;
    while (prev && prev.classList.contains('day-separator')) prev = prev.previousElementSibling;
    return prev;
  }

  // A "Today" / "Yesterday" / date line before the first message of each day. Rebuilt after
  // every change to the list: history pages, live messages and drafts can land anywhere.
  function refreshDays() {
    for (const sep of messagesEl.querySelectorAll(':scope > .day-separator')) sep.remove();
    let previous = '';
    const now = new Date();
    for (const li of [...messagesEl.children]) {
      const at = Number(li.dataset.at);
      const key = at ? dayKey(at) : '';
      if (key && key !== previous) {
        const day = new Date(at);
        const iso = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
        li.before(h('li', { className: 'day-separator' }, h('time', { dateTime: iso, text: dayLabel(at, now) })));
      }
      if (key) previous = key;
      groupWithPrevious(li);
    }
  }

  function appendMessage(m, { stick = false } = {}) {
    if (state.nodes.has(m.id)) return;
    if (m.client_id && state.nodes.has(m.client_id)) {
      confirmPending(m.client_id, m);
      return;
    }
    const wasNear = stick || nearBottom();
    const li = messageNode(m);
    state.nodes.set(m.id, li);
    // Live events, catch-up and history pages can arrive in any order: keep the list sorted by
    // id (almost always this is the end, so the walk is short). Unsent drafts stay last.
    let after = messagesEl.lastElementChild;
    while (after && (after.dataset.id === '' || after.classList.contains('day-separator') || Number(after.dataset.id) > m.id)) {
      after = after.previousElementSibling;
    }
    if (after) after.after(li);
    else messagesEl.prepend(li);
    groupWithPrevious(li);
    groupWithPrevious(li.nextElementSibling);
    refreshDays();
    trackBounds(m);
    if (wasNear || m.author_id === me.id) scrollToBottom();
  }

  function trackBounds(m) {
    state.oldestId = state.oldestId === null ? m.id : Math.min(state.oldestId, m.id);
    state.newestId = state.newestId === null ? m.id : Math.max(state.newestId, m.id);
    if (m.author_id === me.id) state.lastOwnId = Math.max(state.lastOwnId || 0, m.id);
  }

  function confirmPending(clientId, m) {
    const pending = state.nodes.get(clientId);
    state.nodes.delete(clientId);
    if (state.nodes.has(m.id)) {
      pending.remove();
      return;
    }
    const li = messageNode(m);
    pending.replaceWith(li);
    // The server's time replaces the draft's, which may be another day on a wrong clock.
    refreshDays();
    state.nodes.set(m.id, li);
    trackBounds(m);
    updateSeen();
  }

  function replaceMessage(changed) {
    // Deletes and previews carry no thread size: keep the one known.
    const old = state.shown.get(changed.id);
    const m = old ? { ...changed, thread: changed.thread ?? old.thread ?? null, thread_root: changed.thread_root ?? old.thread_root ?? null } : changed;
    thread.onRootChanged(m);
    const li = state.nodes.get(m.id);
    if (!li) return;
    const author = m.author_id ?? Number(li.dataset.author);
    const fresh = messageNode({ ...m, author_id: author, created_at: m.created_at ?? Number(li.dataset.at) });
    li.replaceWith(fresh);
    groupWithPrevious(fresh);
    state.nodes.set(m.id, fresh);
  }

  // ---- sending ----
  async function sendCurrent() {
    const text = textarea.value;
    const channelId = state.activeId;
    if ((!text.trim() && !files.hasAny()) || !channelId || state.sending) return;
    if (text.length > MAX_TEXT) {
      alert.show(describeError({ code: 'message_too_long' }));
      return;
    }
    // The message names the files, so their uploads must be done first.
    state.sending = true;
    const attachments = await files.take().finally(() => { state.sending = false; });
    if (!attachments) {
      alert.show('A file could not be uploaded: remove it (or pick it again) and send once more.');
      return;
    }
    if (state.activeId !== channelId) return;
    textarea.value = '';
    mentions.close();
    autoGrow();
    textarea.focus();
    sendTyping(false);
    const answered = state.replyTo;
    setReply(null);
    const replyTo = answered ? { id: answered.id, author: authorOf(answered), text: answered.text, deleted: false } : null;
    await send(channelId, text, newClientId(), replyTo, attachments);
  }

  async function send(channelId, text, clientId, replyTo = null, attachments = []) {
    const draft = { id: undefined, client_id: clientId, author_id: me.id, text, created_at: Date.now(), reply_to: replyTo, attachments };
    const li = messageNode(draft, { pending: true });
    state.nodes.set(clientId, li);
    messagesEl.append(li);
    groupWithPrevious(li);
    refreshDays();
    scrollToBottom();
    try {
      const data = await api.post(`/api/channels/${channelId}/messages`, {
        text, client_id: clientId, reply_to: replyTo ? replyTo.id : undefined, attachments: attachments.map((a) => a.id),
      });
      const m = normMessage(data.message ?? data);
      bumpChannel(channelId, m);
      if (state.nodes.has(clientId)) confirmPending(clientId, m);
    } catch (err) {
      if (handleAuthError(err)) return;
      li.classList.add('failed');
      li.classList.remove('continued');
      const again = () => {
        state.unsent.delete(clientId);
        state.nodes.delete(clientId);
        li.remove();
        send(channelId, text, clientId, replyTo, attachments);
      };
      // Lost for want of a connection (not refused): sent again by itself once the socket is
      // back (the client id makes a send that did arrive count once).
      const offline = !(err instanceof ApiError) || err.status === 0 || err.status >= 500;
      if (offline) state.unsent.set(clientId, again);
      // Too many messages at once: counted down on the message, then sent again by itself.
      if (err instanceof ApiError && err.code === 'rate_limited') {
        sendAfterLimit(li, Math.max(1, Math.ceil(err.retryAfter ?? 1)), again);
        return;
      }
      const retry = h('button', { type: 'button', className: 'btn btn-link', text: 'Not sent. Retry', on: { click: again } });
      li.querySelector('time').textContent = describeError(err);
      li.append(retry);
    }
  }

  function sendAfterLimit(li, seconds, again) {
    const time = li.querySelector('time');
    let left = seconds;
    const tick = () => {
      if (!li.isConnected) return; // another conversation opened meanwhile
      if (left <= 0) {
        again();
        return;
      }
      time.textContent = `Sending too fast: sending again in ${left} s…`;
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  }

  function bumpChannel(channelId, m) {
    const c = state.channels.get(channelId);
    if (!c) return;
    if (!c.last_message || !(c.last_message.id > m.id)) c.last_message = m;
    renderChannelList();
  }

  function onKeyDown(event) {
    if (mentions.onKeyDown(event)) return;
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendCurrent();
    } else if (event.key === 'ArrowUp' && textarea.value === '' && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      // As in most messengers: ↑ in an empty composer edits my last message.
      const mine = [...state.shown.values()].filter((m) => m.author_id === me.id && !m.deleted && !m.thread_root);
      const last = mine.reduce((a, b) => (!a || b.id > a.id ? b : a), null);
      if (last) {
        event.preventDefault();
        actions.startEdit({ ...last, channel_id: last.channel_id ?? state.activeId });
      }
    }
  }

  function onPaste(event) {
    const pasted = filesOf(event.clipboardData);
    if (pasted.length === 0) return;
    event.preventDefault();
    files.add(pasted);
  }

  function onInput() {
    mentions.update();
    autoGrow();
    sendTyping(textarea.value.length > 0);
  }

  function autoGrow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
  }

  function sendTyping(on) {
    if (!state.activeId) return;
    clearTimeout(state.typingTimer);
    const now = Date.now();
    if (on) {
      if (now - state.typingSentAt > TYPING_SEND_EVERY_MS) {
        socket.send({ type: 'typing', channel_id: state.activeId, on: true });
        state.typingSentAt = now;
      }
      state.typingTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
    } else if (state.typingSentAt) {
      socket.send({ type: 'typing', channel_id: state.activeId, on: false });
      state.typingSentAt = 0;
    }
  }

  // ---- read state ----
  function markRead() {
    const id = state.activeId;
    const last = state.newestId;
    if (!id || last === null || document.visibilityState !== 'visible' || !nearBottom()) return;
    if ((state.lastMarkedRead.get(id) || 0) >= last) return;
    state.lastMarkedRead.set(id, last);
    const c = state.channels.get(id);
    if (c) c.unread = 0;
    renderChannelList();
    api.post(`/api/channels/${id}/read`, { message_id: last }).catch(() => state.lastMarkedRead.delete(id));
  }

  function updateSeen() {
    const c = state.channels.get(state.activeId);
    const own = state.lastOwnId;
    // Like most messengers: "Seen" sits under the newest message, and only when that one is mine.
    if (!c || !own || own !== state.newestId) {
      seen.hidden = true;
      return;
    }
    const reads = state.reads.get(c.id) || new Map();
    const readers = others(c, me.id).filter((u) => (reads.get(u.id) || 0) >= own);
    seen.hidden = readers.length === 0;
    seen.textContent = c.kind === 'direct' ? 'Seen' : `Seen by ${readers.map(displayName).join(', ')}`;
  }

  // ---- typing ----
  function clearTyping() {
    typingLine.textContent = '';
  }

  function renderTyping() {
    const who = state.typing.get(state.activeId);
    const names = who ? [...who.keys()].map((id) => displayName(state.users.get(id))) : [];
    typingLine.textContent = names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
  }

  function onTyping(channelId, userId, on) {
    if (userId === me.id || blocks.has(userId)) return;
    const map = state.typing.get(channelId) || new Map();
    clearTimeout(map.get(userId));
    if (on) map.set(userId, setTimeout(() => onTyping(channelId, userId, false), TYPING_SHOW_MS));
    else map.delete(userId);
    state.typing.set(channelId, map);
    if (channelId === state.activeId) renderTyping();
  }

  // ---- live events ----
  function payload(ev) {
    return ev.data ?? ev.payload ?? ev;
  }

  function onEvent(ev) {
    const p = payload(ev);
    switch (ev.type) {
      case 'message.new': {
        const m = normMessage(p.message ?? p);
        if (m.channel_id === undefined) m.channel_id = p.channel_id;
        onMessageNew(m);
        break;
      }
      case 'message.updated':
      case 'message.deleted': {
        const m = normMessage(p.message ?? p);
        if (ev.type === 'message.deleted') m.deleted = true;
        if (m.channel_id === state.activeId) replaceMessage(m);
        const c = state.channels.get(m.channel_id);
        if (c && c.last_message && c.last_message.id === m.id) c.last_message = m;
        renderChannelList();
        break;
      }
      case 'thread.read':
        threadReadMoved(p.channel_id, p.root_id, p.message_id);
        break;
      case 'channel.muted':
        notifier.setMuted(p.channel_id, Boolean(p.muted));
        renderChannelList();
        if (p.channel_id === state.activeId && state.channels.has(p.channel_id)) renderHeader(state.channels.get(p.channel_id));
        break;
      case 'reaction.updated':
        if (p.channel_id === state.activeId && Array.isArray(p.reactions)) showReactions(p.message_id, p.reactions);
        break;
      case 'typing': {
        const on = p.on ?? p.typing ?? (p.state ? p.state === 'on' || p.state === 'start' : true);
        onTyping(p.channel_id, p.user_id, Boolean(on));
        break;
      }
      case 'read': {
        const reads = state.reads.get(p.channel_id) || new Map();
        reads.set(p.user_id, Math.max(reads.get(p.user_id) || 0, p.message_id));
        state.reads.set(p.channel_id, reads);
        if (p.user_id === me.id) {
          const c = state.channels.get(p.channel_id);
          if (c && (!c.last_message || p.message_id >= c.last_message.id)) c.unread = 0;
          renderChannelList();
        }
        if (p.channel_id === state.activeId) updateSeen();
        break;
      }
      case 'presence': {
        const online = p.online ?? (p.status ? p.status === 'online' : true);
        state.presence.set(p.user_id, Boolean(online));
        renderChannelList();
        const c = state.channels.get(state.activeId);
        if (c) renderHeader(c);
        break;
      }
      case 'channel.updated':
      case 'channel.created':
        if (p.channel && p.channel.id !== undefined && state.channels.has(p.channel.id)) {
          channelChanged(upsertChannel(p.channel));
        } else {
          loadChannels();
        }
        break;
      case 'member.added':
      case 'member.removed': {
        const c = state.channels.get(p.channel_id);
        const userId = p.user_id ?? (p.user && p.user.id);
        if (!c) {
          loadChannels();
        } else if (ev.type === 'member.removed' && userId === me.id) {
          channelGone(p.channel_id, `You are no longer a member of “${channelTitle(c, me.id)}”.`);
        } else {
          if (ev.type === 'member.added') {
            rememberUsers([normUser(p.user)]);
            if (!c.members.some((m) => m.id === userId)) c.members = [...c.members, state.users.get(userId)];
            if (!c.members_known && c.member_count !== null) c.member_count += 1;
          } else {
            c.members = c.members.filter((m) => m.id !== userId);
            if (!c.members_known && c.member_count !== null) c.member_count = Math.max(0, c.member_count - 1);
          }
          channelChanged(c);
        }
        break;
      }
      case 'channel.deleted': {
        const c = state.channels.get(p.channel_id);
        if (c) {
          const name = channelTitle(c, me.id);
          channelGone(p.channel_id, c.kind === 'direct' ? `Your conversation with ${name} was deleted.` : `“${name}” was deleted.`);
        }
        break;
      }
      default:
        break;
    }
  }

  function onMessageNew(m) {
    const c = state.channels.get(m.channel_id);
    if (!c) {
      loadChannels();
      return;
    }
    if (m.author) rememberUsers([m.author]);
    if (m.thread_root) {
      onThreadReply(m);
      const reading = thread.isOpenOn(m.channel_id, m.thread_root) && document.visibilityState === 'visible';
      if (m.author_id !== me.id && !reading && !blocks.has(m.author_id)) notifyOf(c, m);
      return;
    }
    // A retried send is announced again (its first node may have died before announcing it):
    // a message no newer than the last one known is shown in place, never counted twice.
    if (c.last_message && m.id <= c.last_message.id) {
      if (m.channel_id === state.activeId) {
        appendMessage(m);
        updateSeen();
      }
      return;
    }
    c.last_message = m;
    onTyping(m.channel_id, m.author_id, false);
    const reading = m.channel_id === state.activeId && document.visibilityState === 'visible';
    if (m.channel_id === state.activeId) {
      appendMessage(m);
      if (m.author_id !== me.id) markRead();
      updateSeen();
    }
    if (m.author_id !== me.id && !reading && !blocks.has(m.author_id)) {
      c.unread += 1;
      notifyOf(c, m);
    }
    renderChannelList();
  }

  function notifyOf(c, m) {
    const mentionsMe = mentionsIn(m.text).includes(me.username.toLowerCase());
    // A reply in a thread I started, answered or opened is meant for me.
    const followedThread = Boolean(m.thread_root) && state.threadReads.has(m.thread_root);
    if (!notifier.wants({ channelId: c.id, direct: c.kind === 'direct', mentionsMe, followedThread })) return;
    const author = displayName(authorOf(m));
    const where = c.kind === 'direct' ? author : `${author} in ${channelTitle(c, me.id)}`;
    notifier.notify({
      title: m.thread_root ? `${where}, in a thread` : where,
      body: textOrFiles(m),
      // One notification per conversation, and one per thread beside it.
      tag: m.thread_root ? `chat-${c.id}-thread-${m.thread_root}` : `chat-${c.id}`,
      onOpen: () => (m.thread_root ? showMessage(c.id, m.id, m.thread_root) : navigate(`/chat/${c.id}`)),
    });
  }

  // ---- notification settings ----
  function notifySettings() {
    const enable = h('button', {
      type: 'button', className: 'btn btn-link notify-enable', text: 'Turn on notifications',
      hidden: ChatNotifier.permission() !== 'default',
      on: {
        click: async () => {
          const answer = await ChatNotifier.requestPermission();
          enable.hidden = answer !== 'default';
          if (answer === 'denied') listNotice.show('Notifications are blocked for this site in the browser\'s settings.', 'info');
        },
      },
    });
    const soundId = uid('notify-sound');
    const sound = h('input', {
      id: soundId, type: 'checkbox', checked: notifier.sound,
      on: { change: () => notifier.setSound(sound.checked) },
    });
    return h('div', { className: 'notify-settings' }, enable,
      h('p', { className: 'checkbox-row' }, sound, h('label', { htmlFor: soundId, text: 'Sound with notifications' })));
  }

  // Mute is kept by the server, so it follows me to my other devices (channel.muted).
  async function onToggleMute() {
    const c = state.channels.get(state.activeId);
    if (!c) return;
    const muted = !notifier.isMuted(c.id);
    muteBtn.disabled = true;
    try {
      if (muted) await api.put(`/api/channels/${c.id}/mute`);
      else await api.del(`/api/channels/${c.id}/mute`);
      notifier.setMuted(c.id, muted);
      renderHeader(c);
      renderChannelList();
    } catch (err) {
      fail(err);
    } finally {
      muteBtn.disabled = false;
    }
  }

  async function resync() {
    const unsent = [...state.unsent.values()];
    state.unsent.clear();
    for (const again of unsent) again();
    await loadChannels();
    const id = state.activeId;
    if (!id) return;
    if (!state.channels.has(id)) {
      navigate('/chat', { replace: true });
      return;
    }
    // Fetch whatever arrived while the socket was not there, page by page (or the latest page
    // when nothing is shown yet); appendMessage drops what we already have.
    for (let guard = 0; guard < 20; guard += 1) {
      const newest = state.newestId;
      const page = await fetchMessages(id, newest === null ? {} : { after: newest });
      if (!page || state.activeId !== id) return;
      for (const m of page) appendMessage(m);
      if (newest === null || page.length < 100) break;
    }
    updateSeen();
    markRead();
    // An open thread may have missed replies too: it loads again where it is.
    const rootId = thread.rootId;
    if (rootId) thread.open(id, state.shown.get(rootId) || { id: rootId, channel_id: id }, { focus: false });
  }

  async function onEnded() {
    const s = await currentSession().catch(() => null);
    if (!s) navigate('/login', { replace: true, notice: 'Your session has ended. Please log in again.' });
    else if (s.level !== 'full') navigate('/face', { replace: true });
    else socket.scheduleReconnect();
  }

  function onConnectionState(st) {
    connection.hidden = st === 'open';
    connection.textContent = st === 'connecting' ? 'Connecting…' : 'Offline. Reconnecting…';
  }

  // A group's name or members changed: list, header and an open settings dialog follow.
  function channelChanged(c) {
    renderChannelList();
    if (c.id !== state.activeId) return;
    renderHeader(c);
    if (state.groupPanel) state.groupPanel.refresh(c);
  }

  // I left, was removed, or the channel was deleted (by me or someone else).
  // A second word about the same channel (my own leave, then its event) changes nothing.
  function channelGone(id, eventWhy) {
    // My own leave/delete may be announced by its event before the request returns.
    const mine = state.goingAway && state.goingAway.id === id;
    const why = mine ? state.goingAway.why : eventWhy;
    if (mine) state.goingAway = null;
    if (!state.channels.delete(id)) return;
    if (state.activeId === id) {
      if (state.groupPanel) state.groupPanel.close();
      navigate('/chat', { replace: true });
      if (why) listNotice.show(why, 'info');
      newBtn.focus();
    }
    renderChannelList();
  }

  function onManageGroup() {
    const c = state.channels.get(state.activeId);
    if (!c || c.kind !== 'group' || state.groupPanel) return;
    state.groupPanel = openGroupSettings({
      channel: c,
      meId: me.id,
      onChannel: (view) => channelChanged(upsertChannel(view)),
      onGoing: (kind) => {
        const name = channelTitle(state.channels.get(c.id) || c, me.id);
        state.goingAway = kind ? { id: c.id, why: kind === 'left' ? `You left “${name}”.` : `“${name}” was deleted.` } : null;
      },
      onGone: () => channelGone(c.id, null),
      onClose: () => {
        state.groupPanel = null;
        if (manageBtn.isConnected && !manageBtn.hidden && conversation.hidden === false) manageBtn.focus();
      },
    });
  }

  async function onDeleteDirect() {
    const c = state.channels.get(state.activeId);
    if (!c || c.kind !== 'direct') return;
    const name = channelTitle(c, me.id);
    const confirmed = await confirmAction({
      title: `Delete your conversation with ${name}?`,
      message: `All its messages will be deleted for you and for ${name}. This cannot be undone.`,
      confirmText: 'Delete conversation',
    });
    if (!confirmed) {
      deleteDirectBtn.focus();
      return;
    }
    state.goingAway = { id: c.id, why: `Your conversation with ${name} was deleted.` };
    try {
      await api.del(`/api/channels/${c.id}`);
      channelGone(c.id, null);
    } catch (err) {
      state.goingAway = null;
      fail(err);
    }
  }

  async function onNewConversation() {
    const created = await openNewConversation(me.id);
    if (!created) {
      newBtn.focus();
      return;
    }
    const c = upsertChannel(created);
    renderChannelList();
    navigate(`/chat/${c.id}`);
  }

  const onVisibility = () => {
    markRead();
    thread.markRead();
    updateTitle();
  };
  document.addEventListener('visibilitychange', onVisibility);

  const socket = new ChatSocket({ onEvent, onState: onConnectionState, onResync: resync, onEnded });
  socket.connect();
  // Whom I blocked is known before the first message is drawn; without it, nothing is hidden.
  Promise.all([loadChannels(), blocks.load().catch(fail)])
    .then(() => selectChannel(params.channel ? Number(params.channel) : null));

  return {
    update(next) {
      const id = next.channel ? Number(next.channel) : null;
      if (id !== state.activeId) selectChannel(id);
    },
    cleanup() {
      sendTyping(false);
      socket.close();
      document.removeEventListener('visibilitychange', onVisibility);
      document.removeEventListener('keydown', onShortcut);
      if (state.switcher) state.switcher.close();
    },
  };
}
