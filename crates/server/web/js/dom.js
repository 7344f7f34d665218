// Small DOM helpers. Every piece of text goes through textContent (never innerHTML), so
// anything a user or the server sends is shown as text and never parsed as markup.

/**
 * Creates an element. `props` sets properties (className, id, type, value...), `attrs` in the
 * form `{ "aria-label": "..." }` go through setAttribute, `on` maps event names to handlers.
 * Children are nodes or strings (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'attrs') {
      for (const [name, v] of Object.entries(value)) {
        if (v !== undefined && v !== null && v !== false) el.setAttribute(name, String(v));
      }
    } else if (key === 'on') {
      for (const [name, handler] of Object.entries(value)) el.addEventListener(name, handler);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else {
      el[key] = value;
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: returns `{ wrap, input, hint }`. */
export function field({ label, name, type = 'text', autocomplete, required = true, hint, attrs = {} }) {
  const id = uid(name);
  const hintId = hint !== undefined ? `${id}-hint` : undefined;
  const input = h('input', {
    id, name, type, required, autocomplete,
    attrs: { 'aria-describedby': hintId, ...attrs },
  });
  const hintEl = hintId ? h('p', { className: 'field-hint', id: hintId, text: hint }) : null;
  const wrap = h('div', { className: 'field' }, h('label', { htmlFor: id, text: label }), input, hintEl);
  return { wrap, input, hint: hintEl };
}

/** A status/alert box that screen readers announce. */
export function alertBox() {
  const el = h('div', { className: 'alert', hidden: true, attrs: { role: 'alert' } });
  return {
    el,
    show(message, kind = 'error') {
      el.className = `alert alert-${kind}`;
      el.hidden = false;
      if (typeof message === 'string') el.textContent = message;
      else setChildren(el, message);
    },
    clear() {
      el.hidden = true;
      el.textContent = '';
    },
  };
}

/** Formats a duration in seconds as m:ss. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Shows "You can try again in m:ss." in `el` for `seconds`, then hides it and calls `onDone`.
 * Returns a function that stops the countdown early (without calling `onDone`).
 */
export function countdownIn(el, seconds, onDone) {
  const until = Date.now() + seconds * 1000;
  let timer = null;
  const tick = () => {
    const left = (until - Date.now()) / 1000;
    if (left <= 0) {
      clearInterval(timer);
      el.hidden = true;
      onDone();
      return;
    }
    el.textContent = `You can try again in ${formatCountdown(left)}.`;
  };
  el.hidden = false;
  tick();
  timer = setInterval(tick, 500);
  return () => clearInterval(timer);
}

/** Formats a timestamp (unix ms, unix s, or RFC 3339 string) for people. */
export function toDate(value) {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value);
  if (typeof value === 'string') return new Date(value);
  return new Date(NaN);
}

export function formatTime(value) {
  const d = toDate(value);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
