// A scripted stand-in for the server's side of GET /api/face/live (docs/live-check.md), played
// inside the browser with Playwright's WebSocket routing. It lets the page tests reach every
// prompt, outcome and close code on cue; what the real server decides is tested against the
// real server in live.test.mjs.

const FACE = { x: 110, y: 50, width: 100, height: 120 };

/** Width and height from a JPEG's start-of-frame marker. */
function jpegSize(buf) {
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    if (marker >= 0xc0 && marker <= 0xc3) return { width: buf.readUInt16BE(i + 7), height: buf.readUInt16BE(i + 5) };
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return null;
}

/**
 * Routes the next live-check sockets of `page` to a fake server. `plan(n)` is called for the
 * n-th socket (from 1) and returns its script: `{ ready, events: [[afterFrame, message]...] }`,
 * where a message is a JSON object to send, `{ close: code }`, or `{ until: () => boolean }`. Returns a log with every socket's
 * purpose, the times its frames arrived, whether a frame came before the previous answer, and
 * the text messages the page sent.
 */
export async function fakeLive(page, plan) {
  const log = { sockets: [] };
  // A plain GET (the page's probe) gets what a server with the live check on answers.
  await page.route((u) => u.pathname === '/api/face/live', (route) => route.fulfill({
    status: 426, contentType: 'application/json', body: '{"error":{"code":"upgrade_required","message":"WebSocket upgrade required"}}',
  }));
  await page.routeWebSocket(/\/api\/face\/live/, (ws) => {
    const n = log.sockets.length + 1;
    const script = plan(n);
    const entry = { purpose: new URL(ws.url()).searchParams.get('purpose'), frames: [], overlapped: false, sent: [], sizes: [] };
    log.sockets.push(entry);
    let awaiting = false;
    let closed = false;
    const events = [...(script.events || [])];
    const emit = (frame) => {
      while (!closed && events.length && events[0][0] <= frame) {
        // `{ until: () => boolean }` holds the script (the test looks at the page meanwhile).
        if (events[0][1].until) {
          if (!events[0][1].until()) return;
          events.shift();
          continue;
        }
        const [, message] = events.shift();
        if (message.close) {
          closed = true;
          ws.close({ code: message.close });
        } else {
          ws.send(JSON.stringify(message));
          if (message.type === 'result') {
            closed = true;
            ws.close({ code: 1000 });
          }
        }
      }
    };
    ws.onMessage((message) => {
      if (typeof message === 'string') {
        entry.sent.push(JSON.parse(message));
        if (entry.sent.at(-1).type === 'cancel' && !closed) {
          ws.send(JSON.stringify({ type: 'result', outcome: 'failed', code: 'cancelled', message: 'cancelled', retry_after: null }));
          closed = true;
          ws.close({ code: 1000 });
        }
        return;
      }
      if (awaiting) entry.overlapped = true;
      awaiting = true;
      entry.frames.push(Date.now());
      entry.sizes.push(message.length);
      entry.size ??= jpegSize(message);
      const seq = entry.frames.length;
      // Answer after a little "analysis" time, like the server would.
      setTimeout(() => {
        if (closed) return;
        awaiting = false;
        const guidance = script.guidance ? script.guidance(seq) : 'ok';
        ws.send(JSON.stringify({ type: 'frame', seq, face: guidance === 'no_face' ? null : FACE, guidance }));
        emit(seq);
      }, 30);
    });
    if (script.ready !== false) {
      ws.send(JSON.stringify({ type: 'ready', purpose: entry.purpose, steps: script.steps ?? 2, time_limit_ms: script.timeLimit ?? 45000 }));
    }
    emit(0);
  });
  return log;
}

/** A prompt message. */
export const prompt = (step, of, action, ms = 4000) => ({ type: 'prompt', step, of, action, time_limit_ms: ms });
/** A failed result. */
export const failed = (code, reason = null, retryAfter = null) => ({
  type: 'result', outcome: 'failed', code, reason, message: `${code} ${reason ?? ''}`.trim(), retry_after: retryAfter,
});
