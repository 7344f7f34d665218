// A conversation's header actions (Mute, Group settings, Delete conversation, Unblock). On a
// wide screen they sit in the header as buttons; on a phone (app.css, max-width 760px) they
// fold into one "⋯" button that opens them as a menu, so the header keeps one row. The same
// buttons serve both layouts: only CSS decides which one shows.
import { h, uid } from './dom.js';

/**
 * Wraps `buttons` (their `hidden` is kept up to date by the caller). Returns the element to put
 * in the header and `close()`.
 */
export function headerActions(buttons) {
  const id = uid('chat-actions');
  const toggle = h('button', {
    type: 'button', className: 'btn btn-secondary chat-actions-toggle', text: '⋯',
    attrs: { 'aria-label': 'Conversation options', 'aria-expanded': 'false', 'aria-controls': id },
    on: { click: () => (wrap.classList.contains('open') ? close() : open()) },
  });
  const list = h('div', { id, className: 'chat-actions', attrs: { role: 'group', 'aria-label': 'Conversation options' } }, buttons);
  const wrap = h('div', {
    className: 'chat-actions-wrap',
    on: {
      keydown: (e) => {
        if (e.key === 'Escape' && wrap.classList.contains('open')) {
          e.preventDefault();
          e.stopPropagation();
          close();
        }
      },
      focusout: (e) => {
        if (wrap.classList.contains('open') && !wrap.contains(e.relatedTarget)) close(false);
      },
    },
  }, toggle, list);
  // An action closes the menu; focus goes where the action sends it (a dialog, the composer).
  list.addEventListener('click', (e) => {
    if (e.target.closest('button')) close(false);
  });

  function visible() {
    return buttons.filter((b) => !b.hidden);
  }
  function open() {
    wrap.classList.add('open');
    toggle.setAttribute('aria-expanded', 'true');
    visible()[0]?.focus();
  }
  function close(refocus = true) {
    wrap.classList.remove('open');
    toggle.setAttribute('aria-expanded', 'false');
    if (refocus) toggle.focus();
  }
  return { el: wrap, close: () => close(false) };
}
