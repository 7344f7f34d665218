// @mention suggestions in the composer. Typing "@" and the start of a name lists the
// conversation's members whose username, or a word of whose name, starts with it; ↑/↓ move,
// Enter or Tab inserts "@username ", Escape closes. Focus stays in the text box and
// aria-activedescendant names the highlighted option, as in the quick switcher, so screen
// readers follow the arrows.
import { h, setChildren, uid } from './dom.js';
import { displayName, fold } from './chat-model.js';

/** Most suggestions shown at once. */
const MAX_SUGGESTIONS = 8;
/** An "@" at the start or after a space or bracket, then what may begin a username. */
const AT_CARET = /(^|[\s([{])@([A-Za-z0-9_.-]{0,32})$/;

/**
 * The mention being typed just before `caret` in `text`: `{ start, query }` where `start` is
 * the index of the "@", or null when the caret is not in one.
 */
export function mentionAt(text, caret) {
  const m = AT_CARET.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

/** Members (not me) whose username or a word of whose name starts with `query`: usernames first. */
export function matchMembers(members, query, meId) {
  const needle = fold(query);
  const ranked = [];
  for (const member of members) {
    if (!member || member.id === meId || !member.username) continue;
    const username = fold(member.username);
    const words = fold(member.full_name).split(/\s+/).filter(Boolean);
    if (username.startsWith(needle)) ranked.push({ member, rank: 0 });
    else if (words.some((w) => w.startsWith(needle))) ranked.push({ member, rank: 1 });
  }
  ranked.sort((a, b) => a.rank - b.rank || a.member.username.localeCompare(b.member.username));
  return ranked.slice(0, MAX_SUGGESTIONS).map(({ member }) => member);
}

/**
 * Suggestions for `textarea`, from `members()` (the open conversation's people). Returns the
 * list element to place beside the text box, `onKeyDown(event)` (true when it used the key;
 * call it first), `update()` after input or a caret move, and `close()`.
 */
export function mentionSuggester({ textarea, members, meId, onInserted }) {
  const id = uid('mentions');
  let options = []; // { el, member }
  let active = -1;
  let mention = null;
  const list = h('ul', {
    id, className: 'mention-list', hidden: true,
    attrs: { role: 'listbox', 'aria-label': 'People to mention' },
  });
  const status = h('p', { className: 'visually-hidden', attrs: { role: 'status' } });
  textarea.setAttribute('aria-autocomplete', 'list');
  textarea.setAttribute('aria-controls', id);

  function option(member) {
    const el = h('li', {
      id: uid(`${id}-option`), className: 'mention-option', attrs: { role: 'option', 'aria-selected': 'false' },
      on: { mousedown: (e) => e.preventDefault(), click: () => insert(member) },
    },
    h('span', { className: 'mention-option-name', text: displayName(member) }),
    h('span', { className: 'mention-option-username', text: `@${member.username}` }));
    return { el, member };
  }

  function update() {
    mention = textarea.selectionStart === textarea.selectionEnd
      ? mentionAt(textarea.value, textarea.selectionStart) : null;
    const found = mention ? matchMembers(members(), mention.query, meId) : [];
    if (found.length === 0) {
      close();
      return;
    }
    const before = options[active]?.member.id;
    options = found.map(option);
    setChildren(list, options.map((o) => o.el));
    list.hidden = false;
    const kept = options.findIndex((o) => o.member.id === before);
    highlight(kept >= 0 ? kept : 0);
    status.textContent = `${found.length} ${found.length === 1 ? 'person' : 'people'} to mention: ↑ ↓ to choose, Enter to insert`;
  }

  function highlight(index) {
    active = index;
    options.forEach((o, i) => o.el.setAttribute('aria-selected', String(i === index)));
    const current = options[index];
    if (current) textarea.setAttribute('aria-activedescendant', current.el.id);
    else textarea.removeAttribute('aria-activedescendant');
  }

  function close() {
    if (list.hidden && options.length === 0) return;
    list.hidden = true;
    options = [];
    active = -1;
    mention = null;
    setChildren(list);
    textarea.removeAttribute('aria-activedescendant');
    status.textContent = '';
  }

  function insert(member) {
    if (!mention) return;
    const end = textarea.selectionStart;
    const inserted = `@${member.username} `;
    textarea.setRangeText(inserted, mention.start, end, 'end');
    close();
    textarea.focus();
    onInserted?.();
  }

  function onKeyDown(event) {
    if (list.hidden || options.length === 0) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const step = event.key === 'ArrowDown' ? 1 : -1;
      highlight((active + step + options.length) % options.length);
    } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
      if (event.isComposing) return false;
      insert(options[active].member);
    } else if (event.key === 'Escape') {
      close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  textarea.addEventListener('blur', close);
  return { list, status, onKeyDown, update, close };
}
