// Password feedback while typing. The server has the real rules (at least 8 characters, not one
// of the most common passwords); this only helps people get there before they submit.

export const MIN_LENGTH = 8;
export const MAX_LENGTH = 128;

// A handful of the very most common passwords, enough to warn early; the server checks its full list.
const COMMON = new Set([
  'password', 'password1', 'password123', '12345678', '123456789', '1234567890', 'qwertyuiop',
  'qwerty123', '11111111', '00000000', 'iloveyou', 'sunshine', 'princess', 'football', 'baseball',
  'welcome1', 'abc12345', 'letmein1', 'trustno1', 'superman', 'starwars', 'passw0rd', 'whatever',
  'dragon12', 'monkey12', 'asdfghjk', 'zaq12wsx', '1q2w3e4r', '1qaz2wsx', 'qwertyui', '87654321',
]);

/**
 * Rates a password: `{ ok, score (0-4), label, message }`. `ok` mirrors the server's rules as
 * far as the browser can know them.
 */
export function ratePassword(password, { username = '', email = '' } = {}) {
  if (!password) return { ok: false, score: 0, label: '', message: `Use at least ${MIN_LENGTH} characters. Long phrases are best.` };
  if (password.length < MIN_LENGTH) {
    const left = MIN_LENGTH - password.length;
    return { ok: false, score: 0, label: 'Too short', message: `${left} more character${left === 1 ? '' : 's'} needed.` };
  }
  if (password.length > MAX_LENGTH) return { ok: false, score: 0, label: 'Too long', message: `Use at most ${MAX_LENGTH} characters.` };
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return { ok: false, score: 0, label: 'Too common', message: 'This is one of the most used passwords. Pick something less obvious.' };
  const name = username.toLowerCase();
  const mailbox = email.toLowerCase().split('@')[0];
  if ((name.length >= 3 && lower.includes(name)) || (mailbox.length >= 3 && lower.includes(mailbox))) {
    return { ok: true, score: 1, label: 'Weak', message: 'Avoid using your username or email in the password.' };
  }
  let classes = 0;
  for (const re of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) if (re.test(password)) classes += 1;
  const unique = new Set(password).size;
  let score = 1;
  if (password.length >= 12) score += 1;
  if (password.length >= 16) score += 1;
  if (classes >= 3 && unique >= 6) score += 1;
  if (unique < 4) score = 1;
  score = Math.min(4, score);
  const labels = ['', 'Weak', 'Fair', 'Good', 'Strong'];
  const messages = [
    '',
    'Acceptable, but a longer phrase would be much harder to guess.',
    'Fair. Adding a few more words makes it much stronger.',
    '',
    '',
  ];
  return { ok: true, score, label: labels[score], message: messages[score] };
}
