// The options of a message: a per-message button opens a small menu with a row of quick
// reactions, Reply and Copy text on every message, and Edit and Delete on one's own. Edit swaps
// the text for an editor: Enter saves, Shift+Enter adds a line, Escape cancels. Delete asks
// first. Everyone sees the result live through message.updated / message.deleted /
// reaction.updated; the author's page applies the server's answer at once.
import { api } from './api.js';
import { h, uid } from './dom.js';
import { describeError } from './errors.js';
import { normMessage } from './chat-model.js';
import { confirmAction } from './confirm.js';
import { QUICK_REACTIONS } from './chat-reactions.js';

const MAX_TEXT = 4000;

function snippet(text) {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}

/**
 * `channelId()` is the open conversation, `nodeOf(id)` the <li> of a message, `apply(m)` shows a
 * changed message, `afterDelete()` moves focus somewhere sensible, `fail(err)` reports,
 * `reply(m)` starts a reply to `m`, `thread(m)` opens the thread `m` starts (offered on messages
 * of the conversation's timeline), `react(m, emoji)` toggles my reaction, and on other
 * people's messages `report(m)` and `block(m)` report the message and block its author.
 */
export function messageActions({ channelId, nodeOf, apply, afterDelete, fail, reply, thread, react, report, block }) {
  let closeOpenMenu = null;

  function focusTrigger(id) {
    const li = nodeOf(id);
    const btn = li && li.querySelector('.message-tools-btn');
    if (btn) btn.focus();
  }

  /** The options button and its menu for message `m` (sent, not deleted); `mine` adds Edit and Delete. */
  function tools(m, { mine = false } = {}) {
    const menuId = uid('message-menu');
    const trigger = h('button', {
      type: 'button', className: 'message-tools-btn', text: '⋯',
      attrs: { 'aria-label': 'Message options', 'aria-expanded': 'false', 'aria-controls': menuId },
      on: { click: () => (menu.hidden ? open() : close()) },
    });
    const item = (text, action, danger = false) => h('button', {
      type: 'button', className: `message-menu-item${danger ? ' danger' : ''}`, text,
      on: { click: () => { close(false); action(); } },
    });
    const emoji = QUICK_REACTIONS.map((e) => h('button', {
      type: 'button', className: 'message-menu-emoji', text: e, attrs: { 'aria-label': `React with ${e}` },
      on: { click: () => { close(); react(m, e); } },
    }));
    // The menu opens on its first entry: Edit on my own messages, Reply on other people's.
    const entries = [
      ...(mine ? [item('Edit', () => startEdit(m))] : []),
      item('Reply', () => reply(m)),
      ...(thread && !m.thread_root ? [item('Reply in thread', () => thread(m))] : []),
      item('Copy text', () => copy(m)),
      ...(mine ? [item('Delete', () => remove(m), true)] : []),
      ...(mine ? [] : [item('Report…', () => report(m)), item('Block sender', () => block(m), true)]),
    ];
    const items = [...emoji, ...entries];
    const menu = h('div', { id: menuId, className: 'message-menu', hidden: true, attrs: { role: 'group', 'aria-label': 'Message options' } },
      h('div', { className: 'message-menu-emojis' }, emoji), entries);
    const wrap = h('div', {
      className: 'message-tools',
      on: {
        keydown: (e) => {
          if (menu.hidden) return;
          const at = items.indexOf(document.activeElement);
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            close();
          } else if (['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight'].includes(e.key)) {
            e.preventDefault();
            const step = e.key === 'ArrowDown' || e.key === 'ArrowRight' ? 1 : -1;
            items[(at + step + items.length) % items.length].focus();
          }
        },
        focusout: (e) => {
          if (!menu.hidden && !wrap.contains(e.relatedTarget)) close(false);
        },
      },
    }, trigger, menu);

    function open() {
      if (closeOpenMenu) closeOpenMenu(false);
      menu.hidden = false;
      trigger.setAttribute('aria-expanded', 'true');
      closeOpenMenu = close;
      entries[0].focus();
    }
    function close(refocus = true) {
      menu.hidden = true;
      trigger.setAttribute('aria-expanded', 'false');
      if (closeOpenMenu === close) closeOpenMenu = null;
      if (refocus) trigger.focus();
    }
    return wrap;
  }

  function startEdit(m) {
    const li = nodeOf(m.id);
    const textEl = li && li.querySelector('.message-text');
    if (!textEl) return;
    const hintId = uid('edit-hint');
    const error = h('p', { className: 'message-edit-error', hidden: true, attrs: { role: 'alert' } });
    const input = h('textarea', {
      className: 'composer-input message-edit-input', value: m.text, maxLength: MAX_TEXT,
      rows: Math.min(8, m.text.split('\n').length + 1),
      attrs: { 'aria-label': 'Edit message', 'aria-describedby': hintId },
      on: {
        keydown: (e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            cancel();
          } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            save();
          }
        },
      },
    });
    const saveBtn = h('button', { type: 'submit', className: 'btn btn-primary btn-small', text: 'Save' });
    const form = h('form', { className: 'message-edit', on: { submit: (e) => { e.preventDefault(); save(); } } },
      input,
      h('p', { id: hintId, className: 'message-edit-hint', text: 'Enter saves · Escape cancels' }),
      error,
      h('div', { className: 'message-edit-actions' },
        h('button', { type: 'button', className: 'btn btn-secondary btn-small', text: 'Cancel', on: { click: cancel } }),
        saveBtn));
    textEl.replaceWith(form);
    li.classList.add('editing');
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);

    function cancel() {
      if (!form.isConnected) return;
      form.replaceWith(textEl);
      li.classList.remove('editing');
      focusTrigger(m.id);
    }

    async function save() {
      const text = input.value;
      if (!text.trim()) {
        error.hidden = false;
        error.textContent = 'A message cannot be empty. Use Delete to remove it.';
        input.focus();
        return;
      }
      if (text === m.text) {
        cancel();
        return;
      }
      saveBtn.disabled = true;
      try {
        const data = await api.patch(`/api/channels/${m.channel_id ?? channelId()}/messages/${m.id}`, { text });
        apply(normMessage(data.message ?? data));
        focusTrigger(m.id);
      } catch (err) {
        saveBtn.disabled = false;
        error.hidden = false;
        error.textContent = describeError(err);
      }
    }
  }

  async function copy(m) {
    try {
      await navigator.clipboard.writeText(m.text);
    } catch {
      // No clipboard access (an insecure origin, or the browser refused): nothing to undo.
    }
    focusTrigger(m.id);
  }

  async function remove(m) {
    const sure = await confirmAction({
      title: 'Delete this message?',
      message: `“${snippet(m.text)}” will be removed for everyone in this conversation.`,
      confirmText: 'Delete message',
    });
    if (!sure) {
      focusTrigger(m.id);
      return;
    }
    try {
      await api.del(`/api/channels/${m.channel_id ?? channelId()}/messages/${m.id}`);
      apply({ ...m, text: '', deleted: true });
      afterDelete();
    } catch (err) {
      fail(err);
      focusTrigger(m.id);
    }
  }

  return { tools, startEdit };
}
