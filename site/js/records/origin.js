// Who else can reach the lesion history. The browser gives IndexedDB to an origin (scheme, host, port), not
// to a folder: a copy of the site under a sub-path (GitHub Pages project sites: user.github.io/project/)
// shares its storage with every other page on that host, and a github.io host does even at its root (the
// account's project pages live beside it). A page of another origin could also frame the page and trick the
// user into acting on it; a meta CSP cannot set frame-ancestors and static hosts such as GitHub Pages set no
// X-Frame-Options header, so the pages that open the history check it themselves and refuse to run framed.
import { el } from '../ui.js';

const SHARED_HOSTS = /(^|\.)github\.io$/;

/** Where the history's origin is shared with other pages: {origin, path, file}; null where it is not (a site
 * at the root of its own host). A page opened from disk shares it with every HTML file on this computer that
 * the browser opens: Chromium gives all of file:// one origin. */
export function sharedOrigin(loc = location) {
  const path = new URL('.', loc.href).pathname;
  if (loc.protocol === 'file:') return { origin: 'file://', path, file: true };
  if (!/^https?:$/.test(loc.protocol)) return null;
  return path !== '/' || SHARED_HOSTS.test(loc.hostname) ? { origin: loc.origin, path, file: false } : null;
}

const LOCK_ADVICE = 'Set a passphrase in My lesions (“Lock with a passphrase”) before saving photos, or use a copy ' +
  'of the site that has a web address of its own.';

/** The plain warning for a shared origin, naming it (null where the origin is not shared). */
export function sharedOriginWarning(where = sharedOrigin()) {
  if (!where) return null;
  if (where.file) {
    return `This copy of LesionLens was opened from a file (${where.path}). The browser gives every page opened ` +
      'from a file on this computer the same storage, whatever its folder: any HTML file opened here can read ' +
      `the photos saved here unless the history is locked. ${LOCK_ADVICE}`;
  }
  return `This copy of LesionLens is served from ${where.path} on ${where.origin}, an address other pages share ` +
    `(GitHub Pages, for one, serves every project of an account from one address). The browser gives all pages ` +
    `of ${where.origin} the same storage: any of them can read the photos saved here unless the history is ` +
    `locked. ${LOCK_ADVICE}`;
}

/** True when a page of another origin holds this page in a frame. */
export function framedByAnotherOrigin(win = window) {
  if (win.top === win.self) return false;
  try {
    return win.top.location.origin !== win.location.origin;
  } catch {
    return true; // a cross-origin top frame cannot even be read
  }
}

/** Replaces the page's content with a refusal when it is framed by another origin; true when it did (the
 * caller then starts nothing: no model, no history). */
export function refuseFramedUse() {
  if (!framedByAnotherOrigin()) return false;
  const link = el('a', { href: location.href, target: '_top' }, 'Open LesionLens in its own window');
  const message = el('p', { class: 'error framed', role: 'alert' }, 'This page holds your lesion history and ' +
    'does not run inside another site\'s page. ');
  message.append(link, '.');
  document.getElementById('main').replaceChildren(message);
  return true;
}
