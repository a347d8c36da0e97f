// Formatting of dates, numbers and lists for the views.

export const date = (ms) => (ms ? new Date(ms).toLocaleString() : "–");
export const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);
export const fmt = (n, digits = 0) => Number(n || 0).toLocaleString(undefined, { maximumFractionDigits: digits });

/** "3 min ago", "yesterday", … for `ms` relative to `now`. */
export function ago(ms, now = Date.now()) {
  if (!ms) return "–";
  const seconds = Math.round((ms - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const steps = [["second", 60], ["minute", 60], ["hour", 24], ["day", 30], ["month", 12], ["year", Infinity]];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) return rtf.format(Math.round(value), unit);
    value /= size;
  }
  return date(ms);
}

/** A page URL for a list: host and path, without the scheme (or the text as it is). */
export function shortUrl(url) {
  try {
    const u = new URL(url);
    return u.host + (u.pathname === "/" ? "" : u.pathname);
  } catch {
    return url;
  }
}

/**
 * Whether `origin` is allowed by one of `rules` (the worker's rules: exact origins, and
 * `https://*.example.com` for subdomains). Used only to warn early; the worker decides.
 */
export function originAllowed(origin, rules) {
  return rules.some((rule) => {
    rule = rule.trim().replace(/\/$/, "");
    if (rule === origin) return true;
    const m = /^(https?:\/\/)\*\.(.+)$/.exec(rule);
    return !!m && origin.startsWith(m[1]) && origin.slice(m[1].length).endsWith(`.${m[2]}`);
  });
}
