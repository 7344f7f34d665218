// Telling someone about new messages while they look elsewhere: the unread count in the tab's
// title, a browser notification (Notifications API) for a direct message or a mention while the
// tab is hidden, per-conversation mute and an optional sound (off until turned on).
//
// Mute is the account's, kept by the server (the page feeds it in from the channel list and
// `channel.muted` events); the sound is a setting of this browser (localStorage).

const SOUND_KEY = 'facegate.chat.sound';
/** Longest notification body; the rest of a long message is cut with an ellipsis. */
const MAX_BODY = 140;

function readJson(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key) ?? 'null');
    return value ?? fallback;
  } catch {
    return fallback; // storage disabled or a value from an older version
  }
}

function writeJson(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage disabled (private mode, quota): the setting lasts for this page only.
  }
}

/** `(3) Joe Biden · facegate` for 3 unread, the base title for none. */
export function titleWithUnread(base, unread) {
  if (!unread) return base;
  return `(${unread > 99 ? '99+' : unread}) ${base}`;
}

/** A message's text as one short line for a notification. */
export function notificationBody(text) {
  const line = String(text).replace(/\s+/g, ' ').trim();
  return line.length > MAX_BODY ? `${line.slice(0, MAX_BODY - 1)}…` : line;
}

export class ChatNotifier {
  constructor() {
    this.muted = new Set();
    this.sound = readJson(SOUND_KEY, false) === true;
    this.audio = null;
  }

  /** Whether notifications can be shown at all in this browser. */
  static supported() {
    return typeof window.Notification === 'function';
  }

  /** 'granted', 'denied', 'default' or 'unsupported'. */
  static permission() {
    return ChatNotifier.supported() ? window.Notification.permission : 'unsupported';
  }

  /** Asks for permission; must run in a click handler. Resolves to the new permission. */
  static async requestPermission() {
    if (!ChatNotifier.supported()) return 'unsupported';
    try {
      return await window.Notification.requestPermission();
    } catch {
      return window.Notification.permission;
    }
  }

  isMuted(channelId) {
    return this.muted.has(channelId);
  }

  /** Records what the server says; muting itself is a request the page makes. */
  setMuted(channelId, muted) {
    if (muted) this.muted.add(channelId);
    else this.muted.delete(channelId);
  }

  setSound(on) {
    this.sound = Boolean(on);
    writeJson(SOUND_KEY, this.sound);
  }

  /**
   * Whether a new message by someone else deserves a notification: a direct message, one that
   * mentions me, or a reply in a thread I follow; a muted conversation only notifies for a mention.
   */
  wants({ channelId, direct, mentionsMe, followedThread = false }) {
    if (this.isMuted(channelId)) return mentionsMe;
    return direct || mentionsMe || followedThread;
  }

  /**
   * Shows a notification when the tab is hidden and permission is granted; `onOpen` runs when
   * the person clicks it. Returns whether one was shown.
   */
  notify({ title, body, tag, onOpen }) {
    if (document.visibilityState !== 'hidden' || ChatNotifier.permission() !== 'granted') return false;
    let note;
    try {
      // One notification per conversation: a newer message replaces the older one (tag).
      note = new window.Notification(title, { body: notificationBody(body), tag, renotify: false });
    } catch {
      return false; // e.g. Android Chrome, which only allows notifications from a service worker
    }
    note.onclick = () => {
      window.focus();
      note.close();
      onOpen();
    };
    if (this.sound) this.beep();
    return true;
  }

  /** A short soft tone made with Web Audio (no sound file to load). */
  beep() {
    try {
      this.audio ??= new AudioContext();
      const osc = this.audio.createOscillator();
      const gain = this.audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, this.audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, this.audio.currentTime + 0.25);
      osc.connect(gain).connect(this.audio.destination);
      osc.start();
      osc.stop(this.audio.currentTime + 0.25);
    } catch {
      // No audio output, or the browser blocks audio until a click: the notification is enough.
    }
  }
}
