// The lesion history in IndexedDB: lesions, their entries, and (optionally) a passphrase lock under which
// every record's content is encrypted at rest (vault.js). Only random ids and which entry belongs to which
// lesion stay readable. Each change is one transaction, so a failed write (a full disk) loses nothing that
// was saved before.
import { historyFile } from './history-file.js';
import { entryProblem, lesionProblem } from './history-schema.js';
import { newLock, PBKDF2_ITERATIONS, seal, unlockKey, unseal } from './vault.js';

export const DB_NAME = 'lesionlens-history';
const DB_VERSION = 1;

export class HistoryUnavailable extends Error {}
export class StorageFullError extends Error {}
export class HistoryLocked extends Error {}
/** A record the schema refuses: it is not written, since the page could not read it back. */
export class RecordRefused extends Error {}

const FULL_MESSAGE = 'This device has no room left for the site\'s data, so nothing was saved. Everything saved ' +
  'before is still there. Free some space (or export and delete old entries), then try again.';

function settled(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function storageError(error) {
  return error?.name === 'QuotaExceededError' ? new StorageFullError(FULL_MESSAGE) : error;
}

// Resolves when the transaction has committed; a quota failure becomes StorageFullError.
function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(storageError(tx.error));
    tx.onerror = (event) => event.preventDefault(); // the abort handler reports it once
  });
}

async function exists() {
  if (!indexedDB.databases) return true; // cannot tell without opening: assume it does
  return (await indexedDB.databases()).some((d) => d.name === DB_NAME);
}

const STORES = ['lesions', 'entries', 'meta'];

async function openDatabase() {
  const request = indexedDB.open(DB_NAME, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore('lesions', { keyPath: 'id' });
    db.createObjectStore('entries', { keyPath: 'id' }).createIndex('lesionId', 'lesionId');
    db.createObjectStore('meta', { keyPath: 'key' });
  };
  const db = await settled(request);
  // "Delete everything" (here or in another tab) must never be blocked by this page's own connection
  db.onversionchange = () => db.close();
  if (STORES.every((s) => db.objectStoreNames.contains(s))) return db;
  db.close();
  throw new HistoryUnavailable('The on-device database of this site holds none of the lesion history\'s records ' +
    '(something other than this page created it). Delete everything (below) to start a new history.');
}

function refuseWriting(problem) {
  if (problem) throw new RecordRefused(`Nothing was saved: ${problem}. Correct it, then save again.`);
}

function byTakenNewestFirst(a, b) {
  return b.taken.localeCompare(a.taken) || b.added.localeCompare(a.added);
}

export class History {
  #db;
  #lock;
  #key = null;
  #model;

  // ``model``: {codes, sites, malignant} of the page's model, to check records against (history-schema.js;
  // null: every check that needs no model)
  constructor(db, lock, model = null) {
    this.#db = db;
    this.#lock = lock;
    this.#model = model;
  }

  /** A passphrase is set. */
  get locked() {
    return Boolean(this.#lock);
  }

  /** The content can be read and written (no lock, or unlocked in this page). */
  get readable() {
    return !this.#lock || Boolean(this.#key);
  }

  get iterations() {
    return this.#lock?.iterations ?? PBKDF2_ITERATIONS;
  }

  async unlock(passphrase) {
    this.#key = await unlockKey(passphrase, this.#lock);
  }

  async #pack(record, content, key = this.#key) {
    return key ? { ...record, sealed: await seal(key, content) } : { ...record, ...content };
  }

  async #unpack(stored) {
    if (!stored.sealed) return stored;
    if (!this.#key) throw new HistoryLocked('The history is locked: enter the passphrase first.');
    const { sealed, ...ids } = stored;
    return { ...ids, ...(await unseal(this.#key, sealed)) };
  }

  // Every stored record of ``store`` read and checked against the schema: {good, bad}, where bad lists
  // {store, id, problem} for the records that cannot be used (written by an older page, edited, or damaged),
  // so that one bad record never stops the page from showing, exporting or deleting the rest.
  async #checked(store, index = null, query = undefined) {
    const tx = this.#db.transaction(store);
    const source = index ? tx.objectStore(store).index(index) : tx.objectStore(store);
    const good = [];
    const bad = [];
    for (const stored of await settled(source.getAll(query))) {
      let record;
      let problem;
      try {
        record = await this.#unpack(stored);
        problem = store === 'lesions' ? lesionProblem(record, this.#model) : entryProblem(record, this.#model);
      } catch (err) {
        // locked and not yet unlocked: the page asks for the passphrase; a sealed record without a lock is unreadable
        if (err instanceof HistoryLocked && this.locked) throw err;
        problem = `it cannot be decrypted or read (${err.message})`;
      }
      // the key as stored (a number or a date in a crafted database), so that deleting it finds it
      if (problem) bad.push({ store, id: stored.id, problem, record: record ?? stored });
      else good.push(record);
    }
    return { good, bad };
  }

  /** The stored records that cannot be used, each {store, id (its key as stored), problem, record (decrypted
   * where it could be)}. A photo whose lesion cannot be read, or is gone, is one of them: no lesion shows it. */
  async unreadable() {
    const lesions = await this.#checked('lesions');
    const entries = await this.#checked('entries');
    const shown = new Set(lesions.good.map((l) => l.id));
    const orphans = entries.good.filter((e) => !shown.has(e.lesionId)).map((record) => ({ store: 'entries',
      id: record.id, record, problem: `its lesion (${record.lesionId}) cannot be read or is gone, so no lesion shows it` }));
    return [...lesions.bad, ...entries.bad, ...orphans];
  }

  /** The unreadable records as an export file to repair and import again: each lesion with its photos nested
   * as "Export everything" writes them (a photo whose lesion is readable under a copy of it: import adds only
   * the photos a lesion lacks), and ``problems`` listing what is wrong with each record. */
  async unreadableFile() {
    const bad = await this.unreadable();
    const readable = new Map((await this.lesions()).map((l) => [l.id, l]));
    const lesions = new Map(bad.filter((b) => b.store === 'lesions').map(({ record }) => [record.id, { ...record, entries: [] }]));
    for (const { record: { lesionId, ...entry } } of bad.filter((b) => b.store === 'entries')) {
      if (!lesions.has(lesionId)) lesions.set(lesionId, { ...(readable.get(lesionId) ?? { id: lesionId }), entries: [] });
      lesions.get(lesionId).entries.push(entry);
    }
    return { ...historyFile([...lesions.values()]), problems: bad.map(({ store, id, problem }) => ({ store, id, problem })) };
  }

  /** Deletes one stored record by its store and key (an unreadable one); a lesion goes with its photos. */
  async deleteRecord(store, id) {
    if (store === 'lesions') await this.deleteLesion(id);
    else await this.#write([store], (tx) => tx.objectStore(store).delete(id));
  }

  async #write(stores, work) {
    const tx = this.#db.transaction(stores, 'readwrite');
    const done = committed(tx);
    try {
      work(tx);
    } catch (err) {
      tx.abort();
      done.catch(() => {}); // reported once, below
      throw storageError(err);
    }
    return done;
  }

  async lesions() {
    return (await this.#checked('lesions')).good.sort((a, b) => a.name.localeCompare(b.name));
  }

  async lesion(id) {
    if (!id) return null;
    return (await this.lesions()).find((l) => l.id === id) ?? null;
  }

  async entries(lesionId) {
    return (await this.#checked('entries', 'lesionId', lesionId)).good.sort(byTakenNewestFirst);
  }

  // [store, record] pairs, packed (encrypted under a lock) and ready for #putAll; a record the reader would
  // refuse is never written (it would vanish from the page the moment it was saved)
  async #lesionRecord(lesion) {
    refuseWriting(lesionProblem(lesion, this.#model));
    const { id, ...content } = lesion;
    return ['lesions', await this.#pack({ id }, content)];
  }

  async #entryRecord(entry) {
    const record = { ...entry, id: entry.id ?? crypto.randomUUID() };
    refuseWriting(entryProblem(record, this.#model));
    const { id, lesionId, ...content } = record;
    return ['entries', await this.#pack({ id, lesionId }, content)];
  }

  // Records of the entries ``lesionId`` does not have yet: a photo already in it, or twice in ``entries``
  // (same content hash), is left out.
  async #newEntryRecords(lesionId, entries) {
    const known = new Set((await this.entries(lesionId)).map((e) => e.hash));
    const records = [];
    for (const entry of entries) {
      if (known.has(entry.hash)) continue;
      known.add(entry.hash);
      records.push(await this.#entryRecord({ ...entry, lesionId }));
    }
    return records;
  }

  #putAll(records) {
    return this.#write(['lesions', 'entries'], (tx) => records.forEach(([store, r]) => tx.objectStore(store).put(r)));
  }

  async saveLesion(lesion) {
    await this.#putAll([await this.#lesionRecord(lesion)]);
  }

  async saveEntry(entry) {
    await this.#putAll([await this.#entryRecord(entry)]);
  }

  /** Adds entries to ``lesion`` in one transaction, with the lesion record itself when ``writeLesion`` (a new
   * lesion, so a failed write leaves no empty lesion behind, or one the save updated); photos it already has are
   * skipped. Returns {added, skipped}. */
  async addEntries(lesion, entries, writeLesion = false) {
    const records = await this.#newEntryRecords(lesion.id, entries);
    const added = records.length;
    if (writeLesion) records.push(await this.#lesionRecord(lesion));
    await this.#putAll(records);
    return { added, skipped: entries.length - added };
  }

  async deleteEntry(id) {
    await this.#write(['entries'], (tx) => tx.objectStore('entries').delete(id));
  }

  async deleteLesion(id) {
    const tx = this.#db.transaction(['lesions', 'entries'], 'readwrite');
    const done = committed(tx);
    const keys = await settled(tx.objectStore('entries').index('lesionId').getAllKeys(id));
    keys.forEach((key) => tx.objectStore('entries').delete(key));
    tx.objectStore('lesions').delete(id);
    return done;
  }

  /** Everything, as the export file's object. */
  async exportData() {
    const lesions = await this.lesions();
    const withEntries = await Promise.all(lesions.map(async (l) => ({
      ...l, entries: (await this.entries(l.id)).map(({ lesionId, ...entry }) => entry),
    })));
    return historyFile(withEntries);
  }

  /** Merges checked lesions (history-file.js) in one transaction: a lesion already here (same id) gets only
   * the photos it lacks (by content hash). Returns {lesions, entries} added. */
  async importLesions(lesions) {
    const have = new Set((await this.lesions()).map((l) => l.id));
    // an imported photo whose id another lesion's photo already has gets a new id, or it would overwrite that one
    const taken = new Set(await settled(this.#db.transaction('entries').objectStore('entries').getAllKeys()));
    lesions = lesions.map((l) => ({ ...l, entries: l.entries.map((e) => (taken.has(e.id) ? { ...e, id: crypto.randomUUID() } : e)) }));
    const records = [];
    const added = { lesions: 0, entries: 0 };
    for (const { entries, ...lesion } of lesions) {
      if (!have.has(lesion.id)) {
        records.push(await this.#lesionRecord(lesion));
        added.lesions += 1;
      }
      const fresh = await this.#newEntryRecords(lesion.id, entries);
      records.push(...fresh);
      added.entries += fresh.length;
    }
    await this.#putAll(records);
    return added;
  }

  // Every record re-written with ``key`` (null: in the clear), and the lock record, in one transaction.
  // Unreadable records (``unreadable()``) are left as they are: they cannot be re-sealed, and must not stop the lock.
  async #rewrite(key, lock) {
    const lesions = (await this.#checked('lesions')).good;
    const entries = (await this.#checked('entries')).good;
    const records = [
      ...await Promise.all(lesions.map(({ id, ...c }) => this.#pack({ id }, c, key).then((r) => ['lesions', r]))),
      ...await Promise.all(entries.map(({ id, lesionId, ...c }) => (
        this.#pack({ id, lesionId }, c, key).then((r) => ['entries', r])))),
    ];
    await this.#write(['lesions', 'entries', 'meta'], (tx) => {
      records.forEach(([store, r]) => tx.objectStore(store).put(r));
      if (lock) tx.objectStore('meta').put(lock);
      else tx.objectStore('meta').delete('lock');
    });
    this.#lock = lock;
    this.#key = key;
  }

  /** Encrypts everything under a new passphrase (the history must be readable). Refused while a record this
   * page cannot read is stored: it could not be encrypted, and would stay readable beside a "locked" history. */
  async setLock(passphrase) {
    const unreadable = (await this.unreadable()).length;
    if (unreadable) {
      throw new RecordRefused(`Not locked: ${unreadable} stored record(s) this page cannot read (listed under ` +
        '“Records this page cannot read”) could not be encrypted and would stay readable on this device. Export ' +
        'them, delete them, then lock.');
    }
    const { key, lock } = await newLock(passphrase, DB_NAME);
    await this.#rewrite(key, lock);
  }

  async removeLock() {
    await this.#rewrite(null, null);
  }

  close() {
    this.#db.close();
  }
}

/** A new lesion with a fresh id; it is stored with its first entries (History.addEntries). Unknown (null)
 * sex and map point are left out, not stored as a value. */
export function newLesion({ name, site, note, sex = null, mapPoint = null }) {
  return { id: crypto.randomUUID(), name, site, note, created: new Date().toISOString(),
    ...(sex ? { sex } : {}), ...(mapPoint ? { mapPoint } : {}) };
}

/** The history, or null when none exists yet and ``create`` is false (a visit alone stores nothing). */
export async function openHistory({ create = true, model = null } = {}) {
  if (!globalThis.indexedDB) {
    throw new HistoryUnavailable('This browser gives the page no on-device database (IndexedDB), so the lesion ' +
      'history cannot be kept. Use a current Chrome, Edge, Firefox or Safari, not a private window.');
  }
  let db;
  try {
    if (!create && !(await exists())) return null;
    db = await openDatabase();
  } catch (err) {
    if (err instanceof HistoryUnavailable) throw err;
    throw new HistoryUnavailable(`The on-device database could not be opened (${err?.message ?? err}). Private ` +
      'windows and pages opened straight from a file may not allow it: open the site over http(s) in a normal window.');
  }
  const lock = await settled(db.transaction('meta').objectStore('meta').get('lock'));
  return new History(db, lock ?? null, model);
}

/** Deletes the whole database; resolves once nothing is left. */
export function deleteEverything(history) {
  history?.close();
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('Another tab of this site still has the history open. Close it, then ' +
      'try again.'));
  });
}

/** Ask the browser not to evict the history under storage pressure; true when it agreed. */
export async function requestPersistence() {
  return navigator.storage?.persist ? navigator.storage.persist() : false;
}

export async function storageSummary() {
  if (!navigator.storage?.estimate) return null;
  const [{ usage, quota }, persisted] = await Promise.all([navigator.storage.estimate(),
    navigator.storage.persisted ? navigator.storage.persisted() : false]);
  return { usage, quota, persisted };
}
