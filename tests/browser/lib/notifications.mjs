// Browser notifications under test: headless Chromium shows none and always reports a visible
// page, so the page's Notification is replaced by a recorder and the tab can be hidden at will.

/**
 * Records every `new Notification(...)` of the page instead of showing it, and lets the test
 * hide the tab (headless Chromium always reports a visible page).
 */
export async function watchNotifications(page, url) {
  await page.context().grantPermissions(['notifications'], { origin: url });
  await page.addInitScript(() => {
    window.notes = [];
    const Real = window.Notification;
    class Recorder {
      constructor(title, options = {}) {
        window.notes.push({ title, body: options.body, tag: options.tag });
        window.lastNote = this;
        this.onclick = null;
      }

      close() {}

      static get permission() { return Real.permission; }

      static requestPermission() { return Real.requestPermission(); }
    }
    window.Notification = Recorder;
    let hidden = false;
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
    window.setHidden = (value) => {
      hidden = value;
      document.dispatchEvent(new Event('visibilitychange'));
    };
  });
}
