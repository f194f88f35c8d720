// Encryption at rest for the lesion history: AES-GCM with a 256-bit key derived from the passphrase by
// PBKDF2-HMAC-SHA-256. The key never leaves memory and is not extractable; a forgotten passphrase cannot be
// recovered by anyone.

// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA-256; about half a second in a desktop browser.
export const PBKDF2_ITERATIONS = 600000;

// What a lock record may ask for: below, the key is cheap to guess; above, deriving it takes minutes with no
// answer (a lock record from another page, or edited, could ask for billions).
export const MIN_ITERATIONS = 1000;
export const MAX_ITERATIONS = 10_000_000;

export class WrongPassphrase extends Error {}
export class BadLock extends Error {}

function randomSalt() {
  return crypto.getRandomValues(new Uint8Array(16));
}

async function deriveKey(passphrase, salt, iterations) {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false,
    ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', salt, iterations, hash: 'SHA-256' }, material,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** Any JSON-able value, encrypted: {iv, data} (a fresh 96-bit IV each time, as AES-GCM requires). */
export async function seal(key, value) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(JSON.stringify(value)));
  return { iv, data };
}

/** The value ``seal`` encrypted; WrongPassphrase when the key is not the one it was sealed with. */
export async function unseal(key, sealed) {
  let plain;
  try {
    plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, key, sealed.data);
  } catch {
    throw new WrongPassphrase('Wrong passphrase: the history stays locked. Check the spelling and try again.');
  }
  return JSON.parse(new TextDecoder().decode(plain));
}

/** The key of a stored ``lock`` ({salt, iterations, check}) for ``passphrase``: WrongPassphrase when it is not
 * the passphrase, BadLock when the lock record asks for key-derivation settings this page never writes. */
export async function unlockKey(passphrase, lock) {
  const { salt, iterations, check } = lock;
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS
    || !(salt instanceof Uint8Array) || salt.length < 16 || !check?.iv || !check?.data) {
    throw new BadLock(`The lock stored on this device asks for settings this page never uses (${iterations} ` +
      `key-derivation iterations; this page uses ${MIN_ITERATIONS.toLocaleString('en')} to ` +
      `${MAX_ITERATIONS.toLocaleString('en')}), so it was damaged or written by something else and cannot be ` +
      'unlocked. Restore your history from an export after “Delete everything”.');
  }
  // a lock set before passphrases were normalised holds the key of the passphrase as it was typed
  const forms = [...new Set([passphrase.normalize('NFC'), passphrase])];
  for (const [i, form] of forms.entries()) {
    const key = await deriveKey(form, salt, iterations);
    try {
      await unseal(key, check);
      return key;
    } catch (err) {
      if (!(err instanceof WrongPassphrase) || i === forms.length - 1) throw err;
    }
  }
}

/** A new lock for ``passphrase``: {key, lock}, the lock record ({key: 'lock', salt, iterations, check}) to store.
 * The same visible passphrase can be typed as different code points (é as one, or as e and a combining accent,
 * by keyboard or platform): it is normalised to NFC, as unlockKey does, so that they all unlock. */
export async function newLock(passphrase, check) {
  const salt = randomSalt();
  const key = await deriveKey(passphrase.normalize('NFC'), salt, PBKDF2_ITERATIONS);
  return { key, lock: { key: 'lock', salt, iterations: PBKDF2_ITERATIONS, check: await seal(key, check) } };
}
