// Reactions under a message (each emoji with its count; pressing one adds or takes back mine)
// and the quote a reply shows above its text (pressing it jumps to the answered message).
import { h } from './dom.js';

/** The emoji offered in a message's menu. Any single emoji is accepted by the server. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉', '🙏', '👀'];

/** Longest quote shown in a reply, in characters (the server sends at most 200). */
const QUOTE_CHARS = 120;

/**
 * The row of reactions of a message, or null when it has none. `nameOf(userId)` names a person
 * ('you' for me), `onToggle(emoji, mine)` runs when one is pressed.
 */
export function reactionBar(reactions, { meId, nameOf, onToggle }) {
  if (!reactions || reactions.length === 0) return null;
  return h('div', { className: 'reactions', attrs: { role: 'group', 'aria-label': 'Reactions' } },
    reactions.map((r) => {
      const mine = r.user_ids.includes(meId);
      const who = r.user_ids.map((id) => (id === meId ? 'you' : nameOf(id))).join(', ');
      return h('button', {
        type: 'button', className: `reaction${mine ? ' mine' : ''}`, title: `${r.emoji} ${who}`,
        attrs: { 'aria-pressed': String(mine), 'aria-label': `${r.emoji} ${r.count}: ${who}` },
        on: { click: () => onToggle(r.emoji, mine) },
      }, h('span', { className: 'reaction-emoji', text: r.emoji }), h('span', { className: 'reaction-count', text: String(r.count) }));
    }));
}

/** The quote of the answered message, as a button that jumps to it; null for no reply. */
export function replyQuote(reply, { nameOf, onJump }) {
  if (!reply) return null;
  const line = reply.deleted ? 'Message deleted' : reply.text.replace(/\s+/g, ' ').trim();
  const shown = line.length > QUOTE_CHARS ? `${line.slice(0, QUOTE_CHARS - 1)}…` : line;
  return h('button', {
    type: 'button', className: 'reply-quote',
    attrs: { 'aria-label': `Reply to ${nameOf(reply.author)}: ${shown}. Show that message` },
    on: { click: () => onJump(reply.id) },
  }, h('span', { className: 'reply-author', text: nameOf(reply.author) }), h('span', { className: 'reply-text', text: shown }));
}
