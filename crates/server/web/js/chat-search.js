// Search over the messages of my conversations (GET /api/search): a search box in the sidebar
// and the hits under it. A hit's snippet comes from the server as plain text parts; the matched
// words are put in <mark> elements here, as DOM nodes, never as HTML.
import { api } from './api.js';
import { h, setChildren, uid } from './dom.js';
import { describeError } from './errors.js';
import { displayName, normUser } from './chat-model.js';
import { clockTime, dayLabel, fullTimestamp } from './chat-time.js';

/** Longest query the server takes, in characters. */
const MAX_QUERY = 200;
const WAIT_MS = 250;

/** The snippet's parts as text nodes and <mark>s. */
export function snippetNodes(parts) {
  return (parts || []).map((p) => (p.hit ? h('mark', { text: p.text }) : document.createTextNode(p.text)));
}

/**
 * The search box and its results. `titleOf(channelId)` names a conversation (null when it is not
 * in my list), `onOpen(hit)` shows a hit's message. Returns `{ el, input, clear() }`.
 */
export function messageSearch({ titleOf, onOpen }) {
  const id = uid('search');
  const input = h('input', {
    id, type: 'search', maxLength: MAX_QUERY, autocomplete: 'off', placeholder: 'Search messages',
    className: 'chat-search-input', attrs: { 'aria-controls': `${id}-results` },
  });
  const status = h('p', { className: 'search-status', attrs: { role: 'status' } });
  const list = h('ul', { id: `${id}-results`, className: 'search-hits', attrs: { 'aria-label': 'Messages found' } });
  const results = h('div', { className: 'search-results', hidden: true }, status, list);
  const form = h('form', {
    className: 'chat-search', attrs: { role: 'search' },
    on: { submit: (e) => { e.preventDefault(); run(); } },
  }, h('label', { htmlFor: id, className: 'visually-hidden', text: 'Search messages' }), input);
  let timer = null;
  let seq = 0;

  function clear() {
    clearTimeout(timer);
    seq += 1;
    input.value = '';
    results.hidden = true;
    setChildren(list);
    status.textContent = '';
  }

  async function run() {
    clearTimeout(timer);
    const q = input.value.trim();
    const mine = ++seq;
    if (!/[\p{L}\p{N}]/u.test(q)) {
      results.hidden = true;
      setChildren(list);
      status.textContent = '';
      return;
    }
    results.hidden = false;
    status.textContent = 'Searching…';
    try {
      const data = await api.get(`/api/search?q=${encodeURIComponent(q)}&limit=20`);
      if (mine !== seq) return;
      const hits = (data.hits || []).filter((hit) => titleOf(hit.channel_id) !== null);
      status.textContent = hits.length === 0 ? `No messages found for “${q}”.`
        : `${hits.length === 1 ? '1 message' : `${hits.length} messages`} found.`;
      setChildren(list, hits.map(hitRow));
    } catch (err) {
      if (mine === seq) status.textContent = describeError(err);
    }
  }

  function hitRow(hit) {
    const author = normUser(hit.author);
    const when = `${dayLabel(hit.created_at, new Date())} ${clockTime(hit.created_at)}`;
    return h('li', {},
      h('button', {
        type: 'button', className: 'search-hit', title: fullTimestamp(hit.created_at),
        on: { click: () => onOpen(hit) },
      },
      h('span', { className: 'search-hit-where' },
        h('span', { className: 'search-hit-channel', text: titleOf(hit.channel_id) }),
        h('span', { text: ` · ${displayName(author)} · ${when}` })),
      h('span', { className: 'search-hit-text' }, snippetNodes(hit.snippet))));
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, WAIT_MS);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && input.value) {
      e.preventDefault();
      clear();
    }
  });
  return { el: h('div', { className: 'chat-search-wrap' }, form, results), input, clear };
}
