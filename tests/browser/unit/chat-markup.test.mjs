// Unit tests of the chat's markdown subset, date labels, notifications and @mention suggestions (no browser): the modules are loaded
// from crates/server/web/js as they are served.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../lib/paths.mjs';

// The web folder has no package.json saying its .js files are ES modules (it is served as it
// is), so a copy of it next to one that says so is what node loads.
const copy = mkdtempSync(path.join(os.tmpdir(), 'facegate-web-js-'));
cpSync(path.join(REPO, 'crates', 'server', 'web', 'js'), copy, { recursive: true });
writeFileSync(path.join(copy, 'package.json'), '{"type": "module"}');
const load = (name) => import(pathToFileURL(path.join(copy, name)).href);
after(() => rmSync(copy, { recursive: true, force: true }));

const { parse, parseInline, safeHref, mentionsIn } = await load('chat-markup.js');
const { dayLabel, dayKey } = await load('chat-time.js');
const { ChatNotifier, titleWithUnread, notificationBody } = await load('chat-notify.js');
const { mentionAt, matchMembers } = await load('chat-mentions.js');

const text = (t) => ({ type: 'text', text: t });

test('bold, italic and inline code', () => {
  assert.deepEqual(parseInline('a **b** *c* _d_ `e*f*`'), [
    text('a '), { type: 'strong', children: [text('b')] }, text(' '),
    { type: 'em', children: [text('c')] }, text(' '),
    { type: 'em', children: [text('d')] }, text(' '),
    { type: 'code', text: 'e*f*' },
  ]);
  assert.deepEqual(parseInline('**bold _and italic_**'), [
    { type: 'strong', children: [text('bold '), { type: 'em', children: [text('and italic')] }] },
  ]);
});

test('markers that are not emphasis stay as written', () => {
  for (const plain of ['snake_case_name', '2*3*4', '** not bold **', 'a * b * c', 'unclosed **bold', '`', '_']) {
    assert.deepEqual(parseInline(plain), [text(plain)], plain);
  }
});

test('links: http, https and mailto only, trailing punctuation left out', () => {
  assert.deepEqual(parseInline('see https://example.org/a_b?x=1.'), [
    text('see '), { type: 'link', href: 'https://example.org/a_b?x=1', text: 'https://example.org/a_b?x=1' }, text('.'),
  ]);
  assert.deepEqual(parseInline('(http://x.org/wiki/Foo_(bar))'), [
    text('('), { type: 'link', href: 'http://x.org/wiki/Foo_(bar)', text: 'http://x.org/wiki/Foo_(bar)' }, text(')'),
  ]);
  assert.deepEqual(parseInline('mailto:joe@example.org'), [{ type: 'link', href: 'mailto:joe@example.org', text: 'mailto:joe@example.org' }]);
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', 'http://', 'file:///etc/passwd']) {
    assert.ok(parseInline(bad).every((n) => n.type !== 'link'), bad);
    assert.equal(safeHref(bad), null, bad);
  }
  assert.equal(safeHref('https://example.org'), 'https://example.org/');
  assert.equal(safeHref(' javascript:alert(1)'), null);
});

test('mentions: @username at a word start, not inside an address', () => {
  assert.deepEqual(parseInline('hi @joe_b. and @kit!'), [
    text('hi '), { type: 'mention', username: 'joe_b' }, text('. and '), { type: 'mention', username: 'kit' }, text('!'),
  ]);
  assert.deepEqual(parseInline('mail joe@example.org'), [text('mail joe@example.org')]);
  assert.deepEqual(parseInline('@a is too short'), [text('@a is too short')]);
  assert.deepEqual(mentionsIn('@Joe and `@kit` and @joe\n> @rose'), ['joe', 'rose']);
});

test('blocks: paragraphs, code blocks, quotes and lists', () => {
  const blocks = parse('hello\nworld\n\n```\n**not bold**\n  kept\n```\n> quoted *text*\n> more\n- one\n- **two**\n3. three\n4. four');
  assert.deepEqual(blocks, [
    { type: 'paragraph', children: [text('hello'), { type: 'br' }, text('world')] },
    { type: 'code_block', text: '**not bold**\n  kept' },
    { type: 'quote', children: [{ type: 'paragraph', children: [text('quoted '), { type: 'em', children: [text('text')] }, { type: 'br' }, text('more')] }] },
    { type: 'list', ordered: false, items: [[text('one')], [{ type: 'strong', children: [text('two')] }]] },
    { type: 'list', ordered: true, start: 3, items: [[text('three')], [text('four')]] },
  ]);
  assert.deepEqual(parse('```\nunclosed'), [{ type: 'code_block', text: 'unclosed' }]);
});

test('markup as text stays text, and deep nesting ends', () => {
  assert.deepEqual(parse('<img src=x onerror=alert(1)>'), [{ type: 'paragraph', children: [text('<img src=x onerror=alert(1)>')] }]);
  const deep = parse('>'.repeat(50) + ' x');
  let depth = 0;
  for (let b = deep[0]; b && b.type === 'quote'; b = b.children[0]) depth += 1;
  assert.ok(depth <= 4, `quotes nest at most 4 deep, got ${depth}`);
  const started = Date.now();
  parse('*_'.repeat(2000));
  parse('**a '.repeat(1000));
  assert.ok(Date.now() - started < 1000, 'pathological markers parse quickly');
});

test('day labels: Today, Yesterday, weekday, date', () => {
  const now = new Date(2024, 5, 15, 10, 0); // Saturday 15 June 2024, 10:00 local
  assert.equal(dayLabel(new Date(2024, 5, 15, 0, 1), now, 'en-GB'), 'Today');
  assert.equal(dayLabel(new Date(2024, 5, 14, 23, 59), now, 'en-GB'), 'Yesterday');
  assert.equal(dayLabel(new Date(2024, 5, 12, 12, 0), now, 'en-GB'), 'Wednesday');
  // Older days: the date, with the year only when it is not this year's (ICU versions differ
  // in punctuation, so the parts are checked, not the whole string).
  const thisYear = dayLabel(new Date(2024, 4, 1, 12, 0), now, 'en-GB');
  assert.match(thisYear, /^Wed,? 1 May$/);
  assert.match(dayLabel(new Date(2023, 4, 1, 12, 0), now, 'en-GB'), /^Mon,? 1 May,? 2023$/);
  assert.equal(dayKey(new Date(2024, 5, 15, 0, 1)), dayKey(new Date(2024, 5, 15, 23, 59)));
  assert.notEqual(dayKey(new Date(2024, 5, 15, 0, 1)), dayKey(new Date(2024, 5, 14, 23, 59)));
  assert.equal(dayLabel('not a date', now), '');
});

test('notifications: direct messages and mentions, mute silences all but mentions; title counts', () => {
  const n = new ChatNotifier(); // no localStorage here: nothing muted, sound off
  assert.equal(n.sound, false, 'sound is off until turned on');
  assert.equal(n.wants({ channelId: 1, direct: true, mentionsMe: false }), true);
  assert.equal(n.wants({ channelId: 2, direct: false, mentionsMe: false }), false, 'a group message without a mention');
  assert.equal(n.wants({ channelId: 2, direct: false, mentionsMe: true }), true);
  n.setMuted(1, true);
  assert.equal(n.wants({ channelId: 1, direct: true, mentionsMe: false }), false, 'muted');
  assert.equal(n.wants({ channelId: 1, direct: true, mentionsMe: true }), true, 'a mention gets through a mute');
  assert.equal(titleWithUnread('Chat · facegate', 0), 'Chat · facegate');
  assert.equal(titleWithUnread('Chat · facegate', 3), '(3) Chat · facegate');
  assert.equal(titleWithUnread('x', 250), '(99+) x');
  assert.equal(notificationBody('a\n\n b'), 'a b');
  assert.equal(notificationBody('x'.repeat(500)).length, 140);
});

test('an @name is being typed only right after a space, a bracket or the start', () => {
  assert.deepEqual(mentionAt('hi @bo', 6), { start: 3, query: 'bo' });
  assert.deepEqual(mentionAt('@', 1), { start: 0, query: '' });
  assert.deepEqual(mentionAt('(@al) x', 4), { start: 1, query: 'al' });
  assert.equal(mentionAt('mail me at a@bo', 15), null, 'an address is no mention');
  assert.equal(mentionAt('hi @bob there', 13), null, 'the caret left the name');
  assert.deepEqual(mentionAt('hi @bob there', 7), { start: 3, query: 'bob' });
});

test('members match by username first, then by a word of their name, never me', () => {
  const members = [
    { id: 1, username: 'me_myself', full_name: 'Bo Me' },
    { id: 2, username: 'zed', full_name: 'Bob Zed' },
    { id: 3, username: 'bobby', full_name: 'Robert' },
    { id: 4, username: 'alice', full_name: 'Alice Liddell' },
    { id: 5, username: 'josé', full_name: 'José Bové' },
  ];
  assert.deepEqual(matchMembers(members, 'bo', 1).map((m) => m.id), [3, 5, 2], 'bobby by username, then josé and zed by name');
  assert.deepEqual(matchMembers(members, 'LID', 1).map((m) => m.id), [4]);
  assert.deepEqual(matchMembers(members, 'jose', 1).map((m) => m.id), [5]);
  assert.equal(matchMembers(members, '', 1).length, 4);
  const crowd = Array.from({ length: 30 }, (_, i) => ({ id: i + 10, username: `user${i}`, full_name: '' }));
  assert.equal(matchMembers(crowd, 'user', 1).length, 8, 'a short list');
});
