// Encryption at rest for the lesion history: AES-GCM with a 256-bit key derived from the passphrase by
// PBKDF2-HMAC-SHA-256. The key never leaves memory and is not extractable; a forgotten passphrase cannot be
// recovered by anyone.

// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA-256; about half a second in a desktop browser.
export const PBKDF2_ITERATIONS = 600000;

export class WrongPassphrase extends Error {}

export function randomSalt() {
  return crypto.getRandomValues(new Uint8Array(16));
}

export async function deriveKey(passphrase, salt, iterations) {
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
