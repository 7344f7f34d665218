// A small markdown subset for chat messages, parsed into plain objects and built as DOM nodes.
//
// Blocks: paragraphs, ``` code blocks ```, > quotes, "- " and "1. " lists. Inline: **bold**,
// *italic* or _italic_, `code`, links written out in full (http, https and mailto only: a link
// shows the address it goes to, so no "[bank](evil)" text can hide where it leads) and @mentions.
// Text only ever becomes text nodes; no HTML is parsed from what people type, so the page keeps
// its strict CSP. No DOM is touched until renderMarkup, so node's test runner can load it.

/** Deepest nesting of quotes and inline styles; deeper markup stays plain text. */
const MAX_DEPTH = 4;
/** How many candidate closing markers one opening marker looks at before it is taken as text. */
const MAX_CLOSERS = 32;
/** A username as the server allows it (3-32 of A-Z a-z 0-9 _ - .), after an @. */
const MENTION = /@([A-Za-z0-9_][A-Za-z0-9_.-]{1,31})/y;
const URL_START = /(?:https?:\/\/|mailto:)[^\s<>"]+/iy;
const CODE_SPAN = /`([^`\n]+)`/y;
const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);
const BULLET = /^\s{0,3}[-*•]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const FENCE = /^\s{0,3}```/;

/**
 * The href a link may have, or null: only absolute http(s) and mailto URLs, as the URL parser
 * reads them (so "javascript:", "data:", "JaVaScRiPt:" and friends never get through).
 */
export function safeHref(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && !url.hostname) return null;
  return url.href;
}

/** Parses message text into blocks: {type: 'paragraph'|'quote'|'list'|'code_block', ...}. */
export function parse(text, depth = 0) {
  const lines = String(text ?? '').split('\n');
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (FENCE.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^\s{0,3}```\s*$/.test(lines[i])) body.push(lines[i++]);
      i += 1; // the closing fence (or the end of the text)
      blocks.push({ type: 'code_block', text: body.join('\n') });
    } else if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(QUOTE.exec(lines[i++])[1]);
      blocks.push({ type: 'quote', children: parse(body.join('\n'), depth + 1) });
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = NUMBERED.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const items = [];
      const start = ordered ? Number(NUMBERED.exec(line)[1]) : 1;
      while (i < lines.length && pattern.test(lines[i])) {
        const m = pattern.exec(lines[i++]);
        items.push(parseInline(ordered ? m[2] : m[1], depth));
      }
      blocks.push(ordered ? { type: 'list', ordered, start, items } : { type: 'list', ordered, items });
    } else if (line.trim() === '') {
      i += 1;
    } else {
      const body = [];
      while (i < lines.length && lines[i].trim() !== '' && !startsBlock(lines[i], depth)) body.push(lines[i++]);
      blocks.push({ type: 'paragraph', children: parseInline(body.join('\n'), depth) });
    }
  }
  return blocks;
}

function startsBlock(line, depth) {
  return FENCE.test(line) || BULLET.test(line) || NUMBERED.test(line) || (QUOTE.test(line) && depth < MAX_DEPTH);
}

const isWordChar = (c) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

/** Inline nodes: text, br, strong, em, code, link, mention. */
export function parseInline(text, depth = 0) {
  const out = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push({ type: 'text', text: buf });
    buf = '';
  };
  let i = 0;
  // Sticky patterns tried at `i`, so no copy of the rest of the text is made per character.
  const at = (re) => {
    re.lastIndex = i;
    return re.exec(text);
  };
  while (i < text.length) {
    const c = text[i];
    const prev = text[i - 1];
    let m;
    if (c === '\n') {
      flush();
      out.push({ type: 'br' });
      i += 1;
    } else if (c === '`' && (m = at(CODE_SPAN))) {
      flush();
      out.push({ type: 'code', text: m[1] });
      i += m[0].length;
    } else if (/[hm]/i.test(c) && !isWordChar(prev) && (m = at(URL_START)) && linkOf(m[0])) {
      const { href, shown } = linkOf(m[0]);
      flush();
      out.push({ type: 'link', href, text: shown });
      i += shown.length;
    } else if (c === '@' && !isWordChar(prev) && (m = at(MENTION))) {
      const username = m[1].replace(/[.-]+$/, '');
      if (username.length >= 3) {
        flush();
        out.push({ type: 'mention', username });
        i += username.length + 1;
      } else {
        buf += c;
        i += 1;
      }
    } else if (depth < MAX_DEPTH && (m = emphasis(text, i))) {
      flush();
      out.push({ type: m.type, children: parseInline(m.inner, depth + 1) });
      i = m.end;
    } else if (c === '*' || c === '_') {
      // A run of markers that opens nothing is text as a whole ("** x **" must not become
      // "*" + italic).
      let end = i;
      while (text[end] === c) end += 1;
      buf += text.slice(i, end);
      i = end;
    } else {
      buf += c;
      i += 1;
    }
  }
  flush();
  return out;
}

/** The link a URL-looking run makes: trailing punctuation and an unbalanced ")" stay text. */
function linkOf(run) {
  let shown = run.replace(/[.,;:!?'*_]+$/, '');
  while (shown.endsWith(')') && (shown.match(/\(/g) || []).length < (shown.match(/\)/g) || []).length) {
    shown = shown.slice(0, -1).replace(/[.,;:!?'*_]+$/, '');
  }
  const href = safeHref(shown);
  return href ? { href, shown } : null;
}

/**
 * **strong** (also __strong__) or *em* / _em_ starting at `i`: the marker must touch a
 * non-space on its inside, and "_" only counts at word edges, so snake_case_names and 2*3*4
 * stay as written.
 */
function emphasis(text, i) {
  for (const [marker, type] of [['**', 'strong'], ['__', 'strong'], ['*', 'em'], ['_', 'em']]) {
    if (!text.startsWith(marker, i)) continue;
    const from = i + marker.length;
    if (/\s/.test(text[from] ?? ' ')) continue;
    if (marker[0] === '_' && isWordChar(text[i - 1])) continue;
    if (marker === '*' && isWordChar(text[i - 1])) continue;
    if (marker.length === 1 && text[from] === marker) continue;
    let end = text.indexOf(marker, from + 1);
    // Looking at a bounded number of closers keeps text full of markers linear.
    for (let tries = 0; end !== -1 && tries < MAX_CLOSERS; tries += 1) {
      const after = text[end + marker.length];
      const closes = !/\s/.test(text[end - 1]) && !(marker[0] === '_' && isWordChar(after))
        && !(marker === '*' && (after === '*' || isWordChar(after)));
      if (closes && !text.slice(from, end).includes('\n\n')) {
        return { type, inner: text.slice(from, end), end: end + marker.length };
      }
      end = text.indexOf(marker, end + 1);
    }
  }
  return null;
}

/** The usernames a text mentions (lower case, once each), outside code. */
export function mentionsIn(text) {
  const found = new Set();
  const walk = (nodes) => {
    for (const n of nodes) {
      if (n.type === 'mention') found.add(n.username.toLowerCase());
      if (n.children) walk(n.children);
      if (n.items) n.items.forEach(walk);
    }
  };
  walk(parse(text));
  return [...found];
}

/**
 * DOM nodes for `text`. `me` (a username) marks mentions of me with `.mention-me`;
 * `doc` is the document to build in.
 */
export function renderMarkup(text, { me = '', doc = document } = {}) {
  const frag = doc.createDocumentFragment();
  for (const block of parse(text)) frag.append(blockNode(block, me.toLowerCase(), doc));
  return frag;
}

function el(doc, tag, className, children = []) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

function blockNode(block, me, doc) {
  switch (block.type) {
    case 'code_block':
      return el(doc, 'pre', 'md-pre', [el(doc, 'code', '', [doc.createTextNode(block.text)])]);
    case 'quote':
      return el(doc, 'blockquote', 'md-quote', block.children.map((b) => blockNode(b, me, doc)));
    case 'list': {
      const list = el(doc, block.ordered ? 'ol' : 'ul', 'md-list',
        block.items.map((item) => el(doc, 'li', '', inlineNodes(item, me, doc))));
      if (block.ordered && block.start !== 1) list.start = block.start;
      return list;
    }
    default:
      return el(doc, 'p', 'md-p', inlineNodes(block.children, me, doc));
  }
}

function inlineNodes(nodes, me, doc) {
  return nodes.map((n) => {
    switch (n.type) {
      case 'br': return doc.createElement('br');
      case 'code': return el(doc, 'code', 'md-code', [doc.createTextNode(n.text)]);
      case 'strong': return el(doc, 'strong', '', inlineNodes(n.children, me, doc));
      case 'em': return el(doc, 'em', '', inlineNodes(n.children, me, doc));
      case 'mention': {
        const self = n.username.toLowerCase() === me;
        return el(doc, 'span', `mention${self ? ' mention-me' : ''}`, [doc.createTextNode(`@${n.username}`)]);
      }
      case 'link': {
        const a = el(doc, 'a', 'md-link', [doc.createTextNode(n.text)]);
        a.href = n.href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        return a;
      }
      default: return doc.createTextNode(n.text);
    }
  });
}
