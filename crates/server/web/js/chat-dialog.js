// "New conversation": search people, pick one for a direct message or several for a group.
import { api } from './api.js';
import { h, setChildren, uid, alertBox } from './dom.js';
import { describeError } from './errors.js';
import { normUser, listOf, displayName } from './chat-model.js';

/**
 * Searches people (username or full name prefix, never `meId`) as `input` is typed into, after
 * a short pause; only the answer to the latest text is shown. `show(people)` gets the people
 * `keep` lets through, `clear()` runs for an empty box, `onError(err)` on failure.
 */
export function searchAsYouType(input, meId, { show, clear, onError, keep = () => true }) {
  let timer = null;
  let seq = 0;
  async function run() {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) {
      clear();
      return;
    }
    try {
      const data = await api.get(`/api/users?q=${encodeURIComponent(q)}&limit=20`);
      const people = listOf(data, 'users').map(normUser).filter((u) => u.id !== meId && keep(u));
      if (mine === seq) show(people);
    } catch (err) {
      if (mine === seq) onError(err);
    }
  }
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 200);
  });
  return { stop: () => clearTimeout(timer) };
}

/**
 * Opens the dialog. Resolves with the created/fetched channel JSON, or null when cancelled.
 * `meId` is left out of the results.
 */
export function openNewConversation(meId) {
  return new Promise((resolve) => {
    const searchId = uid('people');
    const nameId = uid('group-name');
    const alert = alertBox();
    const selected = new Map();
    const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', placeholder: 'Name or username', attrs: { 'aria-controls': `${searchId}-results` } });
    const results = h('ul', { id: `${searchId}-results`, className: 'people-results', attrs: { 'aria-label': 'People found' } });
    const chips = h('p', { className: 'people-selected', attrs: { 'aria-live': 'polite' } });
    const groupName = h('input', { id: nameId, type: 'text', maxLength: 80, autocomplete: 'off' });
    const groupField = h('div', { className: 'field', hidden: true }, h('label', { htmlFor: nameId, text: 'Group name' }), groupName);
    const start = h('button', { type: 'submit', className: 'btn btn-primary', text: 'Start conversation', disabled: true });
    const cancel = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Cancel', on: { click: () => dialog.close() } });
    const form = h('form', { method: 'dialog', className: 'form', on: { submit: onSubmit } },
      h('h2', { text: 'New conversation' }),
      alert.el,
      h('div', { className: 'field' }, h('label', { htmlFor: searchId, text: 'Find people' }), search),
      results, chips, groupField,
      h('div', { className: 'dialog-actions' }, cancel, start));
    const dialog = h('dialog', { className: 'dialog', attrs: { 'aria-labelledby': `${searchId}-title` } }, form);
    form.querySelector('h2').id = `${searchId}-title`;
    let result = null;
    const searching = searchAsYouType(search, meId, {
      show: (people) => setChildren(results, people.length ? people.map(personRow) : h('li', { className: 'muted', text: 'Nobody found.' })),
      clear: () => setChildren(results),
      onError: (err) => alert.show(describeError(err)),
    });

    dialog.addEventListener('close', () => {
      searching.stop();
      dialog.remove();
      resolve(result);
    });

    function personRow(user) {
      const id = uid('person');
      const box = h('input', { type: 'checkbox', id, checked: selected.has(user.id), on: { change: () => toggle(user, box.checked) } });
      return h('li', { className: 'person' }, box,
        h('label', { htmlFor: id }, h('span', { className: 'person-name', text: displayName(user) }), h('span', { className: 'person-handle', text: `@${user.username}` })));
    }

    function toggle(user, on) {
      if (on) selected.set(user.id, user);
      else selected.delete(user.id);
      const n = selected.size;
      chips.textContent = n ? `Selected: ${[...selected.values()].map(displayName).join(', ')}` : '';
      groupField.hidden = n < 2;
      groupName.required = n >= 2;
      start.disabled = n === 0;
      start.textContent = n >= 2 ? 'Create group' : 'Start conversation';
    }

    async function onSubmit(event) {
      event.preventDefault();
      alert.clear();
      const members = [...selected.keys()];
      if (members.length === 0) return;
      const body = members.length === 1
        ? { kind: 'direct', members }
        : { kind: 'group', members, name: groupName.value.trim() };
      if (body.kind === 'group' && !body.name) {
        alert.show('Please give the group a name.');
        groupName.focus();
        return;
      }
      start.disabled = true;
      try {
        const data = await api.post('/api/channels', body);
        result = data.channel ?? data;
        dialog.close();
      } catch (err) {
        alert.show(describeError(err));
        start.disabled = false;
      }
    }

    document.body.append(dialog);
    dialog.showModal();
    search.focus();
  });
}
