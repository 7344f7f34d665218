// Dates in the message list: which day a message belongs to, the separator label for that day
// ("Today", "Yesterday", a date) and the full timestamp shown on hover. Local time throughout.
import { toDate as asDate } from './dom.js';

/** A key that is equal for two times on the same local calendar day ('' for no time). */
export function dayKey(value) {
  const d = asDate(value);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/**
 * "Today", "Yesterday", the weekday within the last week, else the date (with the year when it
 * is not this year's). `now` is passed in so tests choose the day.
 */
export function dayLabel(value, now = new Date(), locale = undefined) {
  const d = asDate(value);
  if (Number.isNaN(d.getTime())) return '';
  const startOf = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  // Rounded: a day across a daylight-saving change is 23 or 25 hours long.
  const days = Math.round((startOf(now) - startOf(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return d.toLocaleDateString(locale, { weekday: 'long' });
  const sameYear = d.getFullYear() === now.getFullYear();
  return d.toLocaleDateString(locale, {
    weekday: 'short', month: 'long', day: 'numeric', ...(sameYear ? {} : { year: 'numeric' }),
  });
}

/** The time of day a message shows next to its author. */
export function clockTime(value, locale = undefined) {
  const d = asDate(value);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

/** The full date and time, for the hover title of a message's time. */
export function fullTimestamp(value, locale = undefined) {
  const d = asDate(value);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(locale, { dateStyle: 'full', timeStyle: 'medium' });
}
