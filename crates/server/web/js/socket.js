// The chat WebSocket with automatic reconnect and catch-up.
//
// Every server event carries a sequence number. The socket remembers the highest one seen and
// reconnects with `?since=<seq>` so the server replays what was missed; when it cannot (the gap is
// too old, or the server restarted) it says so and `onResync` lets the page reload state through
// the REST API instead.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const PING_MS = 25000;

// Close codes after which reconnecting cannot help: the session ended (logout, expiry, lost its
// level). Others (4002 too slow, 4003 rate limited, 1012 service restart,
// 1001 going away, network loss) reconnect.
const FATAL_CLOSE = new Set([1008, 4001]);

export class ChatSocket {
  /**
   * @param {object} handlers
   * @param {(event: object) => void} handlers.onEvent every event, in order, each once
   * @param {(state: 'connecting'|'open'|'closed') => void} handlers.onState connection state
   * @param {() => void} handlers.onResync reload channels/messages through the REST API
   * @param {() => void} handlers.onEnded the server refused the session; check /api/me
   */
  constructor({ onEvent, onState = () => {}, onResync = () => {}, onEnded = () => {} }) {
    this.handlers = { onEvent, onState, onResync, onEnded };
    this.lastSeq = null;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    this.pinger = null;
    this.onVisible = () => {
      if (document.visibilityState === 'visible' && !this.ws && !this.stopped) this.connectNow();
    };
    document.addEventListener('visibilitychange', this.onVisible);
    window.addEventListener('online', this.onVisible);
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const since = this.lastSeq !== null ? `?since=${encodeURIComponent(this.lastSeq)}` : '';
    return `${proto}//${location.host}/api/ws${since}`;
  }

  connect() {
    if (this.stopped) return;
    this.handlers.onState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.attempt = 0;
      this.handlers.onState('open');
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: 'ping' }), PING_MS);
    });
    ws.addEventListener('message', (msg) => this.receive(msg.data));
    let opened = false;
    ws.addEventListener('open', () => { opened = true; });
    ws.addEventListener('close', (event) => {
      clearInterval(this.pinger);
      if (this.ws === ws) this.ws = null;
      if (this.stopped) return;
      this.handlers.onState('closed');
      // A refused handshake (e.g. the session lost its level) looks like a plain 1006 close;
      // after repeated ones let the page check the session before trying on.
      if (FATAL_CLOSE.has(event.code) || (!opened && this.attempt >= 2)) {
        this.handlers.onEnded(event);
        return;
      }
      this.scheduleReconnect();
    });
  }

  receive(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    const { type } = event;
    if (type === 'pong' || type === 'error') return;
    if (type === 'hello') {
      // `seq` in hello is the server's current position. On a first connect we start there; on
      // a reconnect the replay of everything after our `since` follows, unless the server says
      // it cannot (`resync`), in which case we reload through the REST API from its position.
      if (this.lastSeq === null || event.resync) this.lastSeq = event.seq ?? this.lastSeq;
      // Every (re)connect also catches up through the REST API: on a first connect that covers
      // what happened between the page's first load and the socket's start; on a reconnect it
      // refreshes unread counts and channel order whatever the replay covered.
      this.handlers.onResync({ soft: !event.resync });
      return;
    }
    if (typeof event.seq === 'number') {
      if (this.lastSeq !== null && event.seq <= this.lastSeq) return; // already seen
      this.lastSeq = event.seq;
    }
    this.handlers.onEvent(event);
  }

  scheduleReconnect() {
    clearTimeout(this.timer);
    this.attempt += 1;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** (this.attempt - 1));
    const delay = base / 2 + Math.random() * base / 2;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  connectNow() {
    clearTimeout(this.timer);
    this.connect();
  }

  /** Sends a client event if connected; returns whether it went out. */
  send(event) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(event));
    return true;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    document.removeEventListener('visibilitychange', this.onVisible);
    window.removeEventListener('online', this.onVisible);
    if (this.ws) this.ws.close(1000, 'leaving');
    this.ws = null;
  }
}
