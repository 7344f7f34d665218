// The quick switcher (Ctrl+K, or ⌘K on a Mac): type part of a conversation's name or a
// person's, move with ↑/↓, Enter opens it, Escape closes. A combobox over a listbox: focus stays
// in the text box and aria-activedescendant names the highlighted option, so screen readers
// follow the arrows.
import { h, setChildren, uid } from './dom.js';
import { describeError } from './errors.js';
import { searchAsYouType } from './chat-dialog.js';
import { displayName, fold } from './chat-model.js';

/** Conversations whose title holds `q`, those starting with it first. */
export function matchConversations(conversations, q) {
  const needle = fold(q.trim());
  if (!needle) return conversations.slice(0, 20);
  return conversations
    .map((c) => ({ c, at: fold(c.title).indexOf(needle) }))
    .filter(({ at }) => at >= 0)
    .sort((a, b) => Number(b.at === 0) - Number(a.at === 0))
    .map(({ c }) => c)
    .slice(0, 20);
}

/**
 * Opens the switcher. `conversations()` lists `{ id, title, kind, peerId }` (newest first),
 * `meId` is left out of the people, `onConversation(id)` opens one, `onPerson(user)` starts or
 * opens the direct conversation with someone. Returns the dialog.
 */
export function openSwitcher({ conversations, meId, onConversation, onPerson }) {
  const id = uid('switcher');
  let options = []; // { el, pick }
  let active = -1;
  let people = [];
  const input = h('input', {
    id: `${id}-input`, type: 'text', autocomplete: 'off', className: 'switcher-input', placeholder: 'Conversation or person',
    attrs: {
      role: 'combobox', 'aria-expanded': 'true', 'aria-controls': `${id}-list`, 'aria-autocomplete': 'list',
    },
  });
  const list = h('ul', { id: `${id}-list`, className: 'switcher-list', attrs: { role: 'listbox', 'aria-label': 'Conversations and people' } });
  const status = h('p', { className: 'switcher-status', attrs: { role: 'status' } });
  const dialog = h('dialog', { className: 'dialog dialog-switcher', attrs: { 'aria-labelledby': `${id}-title` } },
    h('h2', { id: `${id}-title`, className: 'switcher-title', text: 'Go to a conversation' }),
    h('label', { htmlFor: input.id, className: 'visually-hidden', text: 'Conversation or person' }),
    input, list, status,
    h('p', { className: 'switcher-hint', text: '↑ ↓ to choose, Enter to open, Escape to close' }));

  function option(label, detail, pick) {
    const el = h('li', {
      id: uid(`${id}-option`), className: 'switcher-option', attrs: { role: 'option', 'aria-selected': 'false' },
      on: { mousedown: (e) => e.preventDefault(), click: () => choose(pick) },
    }, h('span', { className: 'switcher-option-name', text: label }), detail ? h('span', { className: 'switcher-option-detail', text: detail }) : null);
    return { el, pick };
  }

  function render() {
    const q = input.value;
    const convs = matchConversations(conversations(), q);
    const direct = new Set(convs.filter((c) => c.kind === 'direct').map((c) => c.peerId));
    const listed = new Set(conversations().filter((c) => c.kind === 'direct').map((c) => c.peerId));
    options = [
      ...convs.map((c) => option(c.title, c.kind === 'group' ? 'Group' : 'Direct message', () => onConversation(c.id))),
      ...people.filter((u) => !direct.has(u.id) && !listed.has(u.id))
        .map((u) => option(displayName(u), `@${u.username} · new conversation`, () => onPerson(u))),
    ];
    setChildren(list, options.map((o) => o.el));
    status.textContent = options.length ? `${options.length} ${options.length === 1 ? 'result' : 'results'}` : 'Nothing found.';
    highlight(options.length ? 0 : -1);
  }

  function highlight(index) {
    active = index;
    options.forEach((o, i) => o.el.setAttribute('aria-selected', String(i === index)));
    const current = options[index];
    if (current) {
      input.setAttribute('aria-activedescendant', current.el.id);
      current.el.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  function choose(pick) {
    dialog.close();
    pick();
  }

  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (options.length === 0) return;
      const step = e.key === 'ArrowDown' ? 1 : -1;
      highlight((active + step + options.length) % options.length);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (options[active]) choose(options[active].pick);
    }
  });
  input.addEventListener('input', render);
  const searching = searchAsYouType(input, meId, {
    show: (found) => { people = found; render(); },
    clear: () => { people = []; render(); },
    onError: (err) => { status.textContent = describeError(err); },
  });
  dialog.addEventListener('close', () => {
    searching.stop();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  render();
  input.focus();
  return dialog;
}
