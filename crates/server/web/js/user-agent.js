// A short, readable name for a browser from its user agent string.

/** "Chrome 156 on Linux" out of a user agent string; the full string goes in a tooltip. */
export function shortAgent(ua) {
  if (!ua) return '';
  const browser = [
    [/Edg\/(\d+)/, 'Edge'], [/OPR\/(\d+)/, 'Opera'], [/Firefox\/(\d+)/, 'Firefox'],
    [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'], [/Version\/(\d+).*Safari/, 'Safari'],
  ].map(([re, name]) => { const m = re.exec(ua); return m && `${name} ${m[1]}`; }).find(Boolean);
  const os = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X/, 'macOS'], [/Linux/, 'Linux']]
    .map(([re, name]) => re.test(ua) && name).find(Boolean);
  if (!browser) return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}
