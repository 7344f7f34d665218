// Group settings: rename (owner), add and remove members (owner), leave (member) or delete
// (owner) the group. Destructive actions ask first. The chat page feeds live changes in through
// `refresh`, so two people managing one group see each other's changes.
import { api } from './api.js';
import { h, setChildren, uid, alertBox } from './dom.js';
import { describeError } from './errors.js';
import { displayName } from './chat-model.js';
import { searchAsYouType } from './chat-dialog.js';
import { confirmAction } from './confirm.js';

/**
 * Opens the dialog for `channel` (normalised, as the chat page keeps it). `onChannel(view)` receives each new server view
 * of the group; `onGoing(kind)` runs just before I leave ('left') or delete it ('deleted'), and
 * `onGoing(null)` if that failed; `onGone(kind)` runs after it succeeded;
 * `onClose()` when the dialog closes. Returns `{ refresh(channel), close() }`.
 */
export function openGroupSettings({ channel, meId, onChannel, onGoing, onGone, onClose }) {
  let current = channel;
  const titleId = uid('group-title');
  const nameId = uid('group-rename');
  const searchId = uid('group-add');
  const alert = alertBox();
  const status = h('p', { className: 'dialog-status', attrs: { role: 'status' } });
  const nameInput = h('input', { id: nameId, type: 'text', maxLength: 80, autocomplete: 'off', required: true });
  const renameForm = h('form', { className: 'inline-form', on: { submit: onRename } },
    h('div', { className: 'field' }, h('label', { htmlFor: nameId, text: 'Group name' }),
      h('div', { className: 'inline-row' }, nameInput, h('button', { type: 'submit', className: 'btn btn-secondary', text: 'Rename' }))));
  const memberCount = h('h3', { className: 'dialog-subtitle' });
  const memberList = h('ul', { className: 'member-list' });
  const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', placeholder: 'Name or username', attrs: { 'aria-controls': `${searchId}-results` } });
  const results = h('ul', { id: `${searchId}-results`, className: 'people-results', attrs: { 'aria-label': 'People to add' } });
  const addSection = h('div', { className: 'field' }, h('label', { htmlFor: searchId, text: 'Add people' }), search, results);
  const leaveBtn = h('button', { type: 'button', className: 'btn btn-danger', text: 'Leave group', on: { click: onLeave } });
  const deleteBtn = h('button', { type: 'button', className: 'btn btn-danger', text: 'Delete group', on: { click: onDelete } });
  const closeBtn = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Close', on: { click: () => dialog.close() } });
  const heading = h('h2', { id: titleId });
  const ownerLine = h('p', { className: 'muted' });
  const dialog = h('dialog', { className: 'dialog dialog-group', attrs: { 'aria-labelledby': titleId } },
    heading, ownerLine, alert.el, status, renameForm,
    h('section', { attrs: { 'aria-label': 'Members' } }, memberCount, memberList),
    addSection,
    h('div', { className: 'dialog-actions dialog-actions-split' }, leaveBtn, deleteBtn, closeBtn));
  const searching = searchAsYouType(search, meId, {
    show: (people) => setChildren(results, people.length ? people.map(candidateRow) : h('li', { className: 'muted', text: 'Nobody to add.' })),
    clear: () => setChildren(results),
    onError: (err) => alert.show(describeError(err)),
    keep: (u) => !current.members.some((m) => m.id === u.id),
  });

  dialog.addEventListener('close', () => {
    searching.stop();
    dialog.remove();
    onClose();
  });

  const isOwner = () => current.owner_id === meId;

  function render() {
    heading.textContent = `Group settings: ${current.name || 'Group'}`;
    const owner = current.members.find((m) => m.id === current.owner_id);
    ownerLine.textContent = isOwner() ? 'You own this group.' : `Owner: ${owner ? displayName(owner) : 'someone'}`;
    renameForm.hidden = !isOwner();
    // Keep what the owner is typing; otherwise show the latest name.
    if (document.activeElement !== nameInput) nameInput.value = current.name;
    addSection.hidden = !isOwner();
    leaveBtn.hidden = isOwner();
    deleteBtn.hidden = !isOwner();
    memberCount.textContent = `Members (${current.members.length})`;
    const sorted = [...current.members].sort((a, b) => (b.id === current.owner_id) - (a.id === current.owner_id) || displayName(a).localeCompare(displayName(b)));
    setChildren(memberList, sorted.map(memberRow));
  }

  function memberRow(m) {
    const tags = [m.id === meId ? 'you' : null, m.id === current.owner_id ? 'owner' : null].filter(Boolean);
    return h('li', { className: 'member' },
      h('span', { className: 'member-text' },
        h('span', { className: 'person-name', text: displayName(m) }),
        h('span', { className: 'person-handle', text: `@${m.username}${tags.length ? ` · ${tags.join(', ')}` : ''}` })),
      isOwner() && m.id !== meId
        ? h('button', { type: 'button', className: 'btn btn-link', text: 'Remove', attrs: { 'aria-label': `Remove ${displayName(m)}` }, on: { click: () => onRemove(m) } })
        : null);
  }

  async function reloadDetails() {
    const data = await api.get(`/api/channels/${current.id}`);
    onChannel(data.channel ?? data);
  }

  async function act(work, done) {
    alert.clear();
    status.textContent = '';
    try {
      await work();
      if (done) status.textContent = done;
      return true;
    } catch (err) {
      alert.show(describeError(err));
      return false;
    }
  }

  async function onRename(event) {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      alert.show('Please give the group a name.');
      nameInput.focus();
      return;
    }
    if (name === current.name) return;
    await act(async () => {
      const view = await api.patch(`/api/channels/${current.id}`, { name });
      nameInput.blur();
      onChannel(view.channel ?? view);
      nameInput.focus();
    }, `Renamed to ${name}.`);
  }

  async function onRemove(m) {
    const sure = await confirmAction({
      title: `Remove ${displayName(m)}?`,
      message: `${displayName(m)} will leave “${current.name}” and no longer see its messages.`,
      confirmText: 'Remove',
    });
    if (!sure) return;
    await act(async () => {
      await api.del(`/api/channels/${current.id}/members/${m.id}`);
      await reloadDetails();
    }, `${displayName(m)} was removed.`);
    search.focus();
  }

  function candidateRow(user) {
    return h('li', { className: 'member' },
      h('span', { className: 'member-text' },
        h('span', { className: 'person-name', text: displayName(user) }),
        h('span', { className: 'person-handle', text: `@${user.username}` })),
      h('button', {
        type: 'button', className: 'btn btn-link', text: 'Add', attrs: { 'aria-label': `Add ${displayName(user)}` },
        on: { click: () => onAdd(user) },
      }));
  }

  async function onAdd(user) {
    const ok = await act(async () => {
      const view = await api.post(`/api/channels/${current.id}/members`, { user_id: user.id });
      onChannel(view.channel ?? view);
    }, `${displayName(user)} was added.`);
    if (ok) {
      search.value = '';
      setChildren(results);
    }
    search.focus();
  }

  function onLeave() {
    return goAway('left', {
      title: `Leave “${current.name}”?`,
      message: 'You will no longer see its messages. Someone in the group can add you again.',
      confirmText: 'Leave group',
    });
  }

  function onDelete() {
    return goAway('deleted', {
      title: `Delete “${current.name}”?`,
      message: 'The group and all its messages will be deleted for everyone. This cannot be undone.',
      confirmText: 'Delete group',
    });
  }

  // Leaving and deleting are one request (the server tells owner from member), after a confirmation.
  async function goAway(kind, question) {
    if (!(await confirmAction(question))) return;
    onGoing(kind);
    if (await act(() => api.del(`/api/channels/${current.id}`))) {
      dialog.close();
      onGone(kind);
    } else {
      onGoing(null);
    }
  }

  render();
  document.body.append(dialog);
  dialog.showModal();
  closeBtn.focus();
  return {
    refresh(next) {
      current = next;
      render();
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}
