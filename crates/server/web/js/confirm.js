// A modal "are you sure?" for destructive actions. Focus starts on Cancel, so a stray Enter
// does not destroy anything; Escape cancels.
import { h, uid } from './dom.js';

/** Resolves true when the person confirms, false when they cancel (button, Escape). */
export function confirmAction({ title, message, confirmText, danger = true }) {
  return new Promise((resolve) => {
    const titleId = uid('confirm-title');
    const textId = uid('confirm-text');
    let confirmed = false;
    const cancel = h('button', { type: 'button', className: 'btn btn-secondary', text: 'Cancel', on: { click: () => dialog.close() } });
    const ok = h('button', {
      type: 'button', className: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, text: confirmText,
      on: { click: () => { confirmed = true; dialog.close(); } },
    });
    const dialog = h('dialog', {
      className: 'dialog dialog-confirm', attrs: { 'aria-labelledby': titleId, 'aria-describedby': textId, role: 'alertdialog' },
    },
    h('h2', { id: titleId, text: title }),
    h('p', { id: textId, text: message }),
    h('div', { className: 'dialog-actions' }, cancel, ok));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
