// Shapes of the chat API's JSON, read defensively into one internal form, and helpers on them.

export function normUser(u) {
  if (!u) return null;
  return {
    id: u.id ?? u.user_id,
    username: u.username ?? '',
    full_name: u.full_name ?? u.fullName ?? '',
    online: u.online ?? null,
    last_read: u.last_read_id ?? u.last_read_message_id ?? u.last_read ?? null,
  };
}

export function normMessage(m) {
  if (!m) return null;
  const author = m.author && typeof m.author === 'object' ? normUser(m.author) : null;
  return {
    id: m.id ?? m.message_id,
    channel_id: m.channel_id ?? m.channel,
    author_id: m.author_id ?? m.user_id ?? (author ? author.id : null),
    author,
    text: m.deleted || m.deleted_at ? '' : (m.text ?? ''),
    created_at: m.created_at ?? m.sent_at ?? m.ts ?? null,
    edited: Boolean(m.edited_at || m.edited),
    deleted: Boolean(m.deleted_at || m.deleted),
    client_id: m.client_id ?? null,
    reply_to: m.reply_to && typeof m.reply_to === 'object' ? {
      id: m.reply_to.id, author: normUser(m.reply_to.author), text: m.reply_to.text ?? '', deleted: Boolean(m.reply_to.deleted),
    } : null,
    reactions: Array.isArray(m.reactions) ? m.reactions : [],
    attachments: Array.isArray(m.attachments) && !(m.deleted || m.deleted_at) ? m.attachments : [],
    // A reply in a thread names the thread's first message; that one carries the thread's size.
    thread_root: m.thread_root ?? null,
    thread: m.thread && typeof m.thread === 'object' ? m.thread : null,
  };
}

export function normChannel(c) {
  // Details list every member; list entries of a direct channel only name the peer.
  const raw = c.members || (c.peer ? [c.peer] : []);
  const members = raw.map((m) => normUser(typeof m === 'object' ? m : { id: m }));
  return {
    id: c.id ?? c.channel_id,
    kind: c.kind ?? (c.name ? 'group' : 'direct'),
    name: c.name ?? '',
    owner_id: c.owner_id ?? c.owner ?? null,
    members,
    // A list entry names only a direct channel's peer; details list every member.
    members_known: Array.isArray(c.members),
    member_count: c.member_count ?? (Array.isArray(c.members) ? c.members.length : null),
    last_message: normMessage(c.last_message),
    unread: c.unread_count ?? c.unread ?? 0,
    unread_threads: c.unread_threads ?? 0,
    muted: Boolean(c.muted),
    activity: c.last_activity_at ?? c.updated_at ?? c.created_at ?? null,
  };
}

/** A list out of a paginated or bare answer: `[...]`, `{items}`, `{channels}`... */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (!data) return [];
  return data[key] ?? data.items ?? data.data ?? data.results ?? [];
}

// Bidirectional controls and zero-width characters: the server refuses them in new names, but a
// name stored before that rule must not reverse or hide the text around it either.
const HIDDEN_IN_NAMES = /[\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;

export function displayName(user) {
  if (!user) return 'Someone';
  const name = (user.full_name || '').replace(HIDDEN_IN_NAMES, '').trim();
  return name || user.username || `User ${user.id}`;
}

/** Lower case without accents, so "jose" finds "José". */
export function fold(text) {
  return (text || '').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The other people in a channel (everyone but me). */
export function others(channel, meId) {
  return channel.members.filter((m) => m.id !== meId);
}

export function channelTitle(channel, meId) {
  if (channel.kind === 'group') return channel.name || others(channel, meId).map(displayName).join(', ') || 'Group';
  const other = others(channel, meId)[0];
  return other ? displayName(other) : 'Direct message';
}

function timeOf(value) {
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const t = Date.parse(value || '');
  return Number.isNaN(t) ? 0 : t;
}

/** Orders the channel list: newest activity first. */
export function compareActivity(a, b) {
  const ta = Math.max(timeOf(a.last_message && a.last_message.created_at), timeOf(a.activity));
  const tb = Math.max(timeOf(b.last_message && b.last_message.created_at), timeOf(b.activity));
  if (ta !== tb) return tb - ta;
  return (b.last_message ? b.last_message.id : 0) - (a.last_message ? a.last_message.id : 0) || b.id - a.id;
}

export function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
