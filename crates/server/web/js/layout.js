// Page frames shared by several pages.
import { h } from './dom.js';

export function brand() {
  return h('a', { className: 'brand', href: '/', attrs: { 'data-link': '' } },
    h('img', { src: '/favicon.svg', alt: '', width: 28, height: 28 }), h('span', { text: 'facegate' }));
}

/** A centered card for the sign-in pages. */
export function authShell({ title, subtitle, wide = false }, ...content) {
  return h('div', { className: 'auth-page' },
    h('header', { className: 'auth-header' }, brand()),
    h('section', { className: `auth-card${wide ? ' auth-card-wide' : ''}`, attrs: { 'aria-labelledby': 'page-title' } },
      h('h1', { id: 'page-title', text: title }),
      subtitle ? h('p', { className: 'subtitle', text: subtitle }) : null,
      ...content));
}
