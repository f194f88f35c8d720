// The lesion history in IndexedDB: patients, their lesions, the lesions' entries, and (optionally) a passphrase
// lock under which every record's content is encrypted at rest (vault.js), a patient's ID and name included.
// Only random ids and which entry belongs to which lesion stay readable. Each change is one transaction, so a
// failed write (a full disk) loses nothing that was saved before.
import { historyFile } from './history-file.js';
import { entryProblem, lesionProblem, patientProblem } from './history-schema.js';
import { findPatient, mergePatient, PatientConflict, patientKey } from './patient-record.js';
import { newLock, PBKDF2_ITERATIONS, seal, unlockKey, unseal } from './vault.js';

export const DB_NAME = 'lesionlens-history';
// 2: the patients store (#44); a version 1 database gets it on opening, its records unchanged
const DB_VERSION = 2;

// Where the history lives, and why it moves. Chromium keeps every IndexedDB database of a site in one LevelDB,
// so deleting or overwriting a record leaves its bytes in the profile's files until a compaction the page
// cannot start (measured, tests/test_history_at_rest.py: a lesion's name, note and photo were still in those
// files after the lock, after deleteDatabase, and after the browser was closed and opened again). A storage
// bucket (Chromium 122+) has files of its own, and deleting the bucket deletes them. So the history lives in a
// bucket of its own where buckets exist (else in a database of its own name: Firefox and Safari keep a file
// per database), and every lock or unlock writes it to a fresh one, checks it, then deletes the old one.
// A home: {generation, bucket (its name, or null: the default storage), name (the database's)}. Generation 0
// is the earlier page's database, DB_NAME in the default storage; newer ones are named DB_NAME-<generation>.
const HOME_NAME = /^lesionlens-history(?:-([1-9][0-9]*))?$/;
// Written last into a home, once every record in it has been read back: a home without it is a move that
// stopped half-way, and is deleted (the home it was moving from still holds everything).
const HOME_RECORD = 'home';
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

async function bucketsUsable() {
  if (!navigator.storageBuckets) return false;
  try {
    await navigator.storageBuckets.keys();
    return true;
  } catch {
    return false; // e.g. a page opened from a file: the default storage only
  }
}

async function factoryOf(home) {
  if (!home.bucket) return indexedDB;
  // strict: a committed write is on disk, so the old home is deleted only after the new one is; persisted: a
  // bucket is evicted under storage pressure on its own, whatever the default storage was granted (the browser
  // may refuse it, which is not an error)
  return (await navigator.storageBuckets.open(home.bucket, { durability: 'strict', persisted: true })).indexedDB;
}

async function removeHome(home) {
  if (home.bucket) return navigator.storageBuckets.delete(home.bucket);
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(home.name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('Another tab of this site still has the history open. Close it, then ' +
      'try again.'));
  });
}

/** Every home on this device, newest first; null when the browser cannot list its databases (then the
 * history stays in DB_NAME and is never moved: a moved one could not be found again). */
async function homes() {
  if (!indexedDB.databases) return null;
  const found = [];
  for (const { name } of await indexedDB.databases()) {
    const match = HOME_NAME.exec(name);
    if (match) found.push({ generation: Number(match[1] ?? 0), bucket: null, name });
  }
  if (await bucketsUsable()) {
    for (const bucket of await navigator.storageBuckets.keys()) {
      const match = HOME_NAME.exec(bucket);
      if (match?.[1]) found.push({ generation: Number(match[1]), bucket, name: DB_NAME });
    }
  }
  return found.sort((a, b) => b.generation - a.generation);
}

async function newHome(generation) {
  const name = `${DB_NAME}-${generation}`;
  return (await bucketsUsable()) ? { generation, bucket: name, name: DB_NAME } : { generation, bucket: null, name };
}

const STORES = ['patients', 'lesions', 'entries', 'meta'];
// the stores of records, each record {id, ...content}: the content is what the lock seals
const RECORD_STORES = ['patients', 'lesions', 'entries'];

// ``complete``: a new home gets its HOME_RECORD in the same transaction that creates its stores (a history
// started here); a home being moved into gets it only once its records are checked.
async function openDatabase(home, { complete = true } = {}) {
  const request = (await factoryOf(home)).open(home.name, DB_VERSION);
  request.onupgradeneeded = ({ oldVersion }) => {
    const db = request.result;
    if (oldVersion < 1) {
      db.createObjectStore('lesions', { keyPath: 'id' });
      db.createObjectStore('entries', { keyPath: 'id' }).createIndex('lesionId', 'lesionId');
      db.createObjectStore('meta', { keyPath: 'key' });
      if (complete && home.generation) request.transaction.objectStore('meta').put({ key: HOME_RECORD, generation: home.generation });
    }
    if (oldVersion < 2) db.createObjectStore('patients', { keyPath: 'id' });
  };
  const db = await settled(request);
  // "Delete everything" or a move (here or in another tab) must never be blocked by this page's own connection;
  // a page whose history moved away says so instead of failing on a closed connection
  db.onversionchange = () => {
    db.gone = true;
    db.close();
  };
  db.onclose = () => {
    db.gone = true;
  };
  if (STORES.every((s) => db.objectStoreNames.contains(s))) return db;
  db.close();
  throw new HistoryUnavailable('The on-device database of this site holds none of the lesion history\'s records ' +
    '(something other than this page created it). Delete everything (below) to start a new history.');
}

async function isComplete(home) {
  if (!home.generation) return true; // the earlier page's database: it never moved
  let db;
  try {
    db = await openDatabase(home, { complete: false });
    return Boolean(await settled(db.transaction('meta').objectStore('meta').get(HOME_RECORD)));
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

/** The home the history is in, or null when there is none. A move that stopped half-way is undone here:
 * a newer home without its HOME_RECORD is deleted (the older one still holds everything), and an older home
 * beside a complete newer one (the move stopped before deleting it) is deleted too. */
async function currentHome() {
  const all = await homes();
  if (!all) return { generation: 0, bucket: null, name: DB_NAME, fixed: true };
  let current = null;
  for (const home of all) {
    if (!current && await isComplete(home)) current = home;
    else await removeHome(home);
  }
  return current;
}

function refuseWriting(problem) {
  if (problem) throw new RecordRefused(`Nothing was saved: ${problem}. Correct it, then save again.`);
}

function byTakenNewestFirst(a, b) {
  return b.taken.localeCompare(a.taken) || b.added.localeCompare(a.added);
}

export class History {
  #db;
  #home;
  #lock;
  #key = null;
  #model;

  // ``model``: {codes, sites, malignant} of the page's model, to check records against (history-schema.js;
  // null: every check that needs no model); ``home``: where ``db`` is (currentHome)
  constructor(db, lock, model = null, home = null) {
    this.#db = db;
    this.#lock = lock;
    this.#model = model;
    this.#home = home;
  }

  #transaction(stores, mode = 'readonly') {
    if (this.#db.gone) {
      throw new HistoryUnavailable('Your history was locked, unlocked or deleted in another tab or window, so this ' +
        'page no longer has it: reload the page.');
    }
    return this.#db.transaction(stores, mode);
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
    const tx = this.#transaction(store);
    const source = index ? tx.objectStore(store).index(index) : tx.objectStore(store);
    const good = [];
    const bad = [];
    for (const stored of await settled(source.getAll(query))) {
      let record;
      let problem;
      try {
        record = await this.#unpack(stored);
        problem = { patients: patientProblem, lesions: lesionProblem, entries: entryProblem }[store](record, this.#model);
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

  // The readable patients and lesions, and the lesions shown: of no patient, or of a readable one. A lesion whose
  // patient cannot be read, or is gone, is set apart with the unreadable records: no patient shows it.
  async #shown() {
    const patients = (await this.#checked('patients')).good;
    const known = new Set(patients.map((p) => p.id));
    const lesions = await this.#checked('lesions');
    const shown = (l) => !l.patient || known.has(l.patient);
    return { patients, lesions: lesions.good.filter(shown), lost: lesions.good.filter((l) => !shown(l)), bad: lesions.bad };
  }

  /** The stored records that cannot be used, each {store, id (its key as stored), problem, record (decrypted
   * where it could be)}. A lesion whose patient cannot be read, or is gone, is one of them, and so is a photo
   * whose lesion is not shown: no patient or lesion shows them. */
  async unreadable() {
    const patients = await this.#checked('patients');
    const { lesions, lost, bad } = await this.#shown();
    const entries = await this.#checked('entries');
    const shown = new Set(lesions.map((l) => l.id));
    const orphans = entries.good.filter((e) => !shown.has(e.lesionId)).map((record) => ({ store: 'entries',
      id: record.id, record, problem: `its lesion (${record.lesionId}) cannot be read or is gone, so no lesion shows it` }));
    const unfiled = lost.map((record) => ({ store: 'lesions', id: record.id, record,
      problem: `its patient (${record.patient}) cannot be read or is gone, so no patient shows it` }));
    return [...patients.bad, ...bad, ...unfiled, ...entries.bad, ...orphans];
  }

  /** The unreadable records as an export file to repair and import again: each lesion with its photos nested
   * as "Export everything" writes them (a photo whose lesion is readable under a copy of it: import adds only
   * the photos a lesion lacks), a lesion under its patient (a readable one as a copy: import adds only the lesions
   * a patient lacks), and ``problems`` listing what is wrong with each record. */
  async unreadableFile() {
    const bad = await this.unreadable();
    const readable = new Map((await this.#checked('lesions')).good.map((l) => [l.id, l]));
    const lesions = new Map(bad.filter((b) => b.store === 'lesions').map(({ record }) => [record.id, { ...record, entries: [] }]));
    for (const { record: { lesionId, ...entry } } of bad.filter((b) => b.store === 'entries')) {
      if (!lesions.has(lesionId)) lesions.set(lesionId, { ...(readable.get(lesionId) ?? { id: lesionId }), entries: [] });
      lesions.get(lesionId).entries.push(entry);
    }
    const patients = new Map(bad.filter((b) => b.store === 'patients').map(({ record }) => [record.id, { ...record, lesions: [] }]));
    const readablePatients = new Map((await this.patients()).map((p) => [p.id, p]));
    const unfiled = [];
    for (const { patient, ...lesion } of lesions.values()) {
      if (readablePatients.has(patient) && !patients.has(patient)) patients.set(patient, { ...readablePatients.get(patient), lesions: [] });
      (patients.get(patient)?.lesions ?? unfiled).push(lesion);
    }
    return { ...historyFile([...patients.values()], unfiled),
      problems: bad.map(({ store, id, problem }) => ({ store, id, problem })) };
  }

  /** Deletes one stored record by its store and key (an unreadable one): a lesion goes with its photos; a
   * patient's readable lesions stay, Unassigned. Returns how many lesions that moved. */
  async deleteRecord(store, id) {
    if (store === 'lesions') {
      await this.deleteLesion(id);
      return 0;
    }
    if (store !== 'patients') {
      await this.#write([store], (tx) => tx.objectStore(store).delete(id));
      return 0;
    }
    const records = [];
    for (const { patient, ...lesion } of (await this.#checked('lesions')).good) {
      if (patient === id) records.push(await this.#lesionRecord(lesion));
    }
    await this.#write(['patients', 'lesions'], (tx) => {
      tx.objectStore('patients').delete(id);
      records.forEach(([s, r]) => tx.objectStore(s).put(r));
    });
    return records.length;
  }

  async #write(stores, work) {
    const tx = this.#transaction(stores, 'readwrite');
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

  /** The readable patients, by patient ID (numbers in it in numeric order). */
  async patients() {
    return (await this.#checked('patients')).good
      .sort((a, b) => a.patientId.localeCompare(b.patientId, undefined, { numeric: true }));
  }

  async patient(id) {
    return (await this.patients()).find((p) => p.id === id) ?? null;
  }

  /** The lesions shown (history.unreadable lists the rest), by name. */
  async lesions() {
    return (await this.#shown()).lesions.sort((a, b) => a.name.localeCompare(b.name));
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
  async #patientRecord(patient) {
    refuseWriting(patientProblem(patient));
    const { id, ...content } = patient;
    return ['patients', await this.#pack({ id }, content)];
  }

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
    return this.#write(RECORD_STORES, (tx) => records.forEach(([store, r]) => tx.objectStore(store).put(r)));
  }

  /** Saves a patient's record; refused when another patient has its patient ID (two records of one person). */
  async savePatient(patient) {
    const other = findPatient((await this.patients()).filter((p) => p.id !== patient.id), patient.patientId);
    if (other) {
      throw new RecordRefused(`Nothing was saved: another patient has the ID ${other.patientId}. Give this patient ` +
        'another ID, or move its lesions to that patient one by one (each lesion\'s details).');
    }
    await this.#putAll([await this.#patientRecord(patient)]);
  }

  /** Saves a lesion, with its ``patient`` record in the same transaction when given (a new patient). */
  async saveLesion(lesion, patient = null) {
    await this.#putAll([await this.#lesionRecord(lesion), ...(patient ? [await this.#patientRecord(patient)] : [])]);
  }

  async saveEntry(entry) {
    await this.#putAll([await this.#entryRecord(entry)]);
  }

  /** Adds entries to ``lesion`` in one transaction, with the lesion record itself when ``writeLesion`` (a new
   * lesion, so a failed write leaves no empty lesion behind, or one the save updated) and its ``patient`` record
   * when given (new, or updated); photos it already has are skipped. Returns {added, skipped}. */
  async addEntries(lesion, entries, writeLesion = false, patient = null) {
    const records = await this.#newEntryRecords(lesion.id, entries);
    const added = records.length;
    if (writeLesion) records.push(await this.#lesionRecord(lesion));
    if (patient) records.push(await this.#patientRecord(patient));
    await this.#putAll(records);
    return { added, skipped: entries.length - added };
  }

  /** Saves several entries in one transaction (a visit's photos, all or none). */
  async saveEntries(entries) {
    await this.#putAll(await Promise.all(entries.map((e) => this.#entryRecord(e))));
  }

  async deleteEntry(id) {
    await this.#write(['entries'], (tx) => tx.objectStore('entries').delete(id));
  }

  // Deletes the lesions ``ids`` with their photos in ``tx`` (the awaits are the transaction's own requests).
  static async #deleteLesions(tx, ids) {
    for (const id of ids) {
      const keys = await settled(tx.objectStore('entries').index('lesionId').getAllKeys(id));
      keys.forEach((key) => tx.objectStore('entries').delete(key));
      tx.objectStore('lesions').delete(id);
    }
  }

  async deleteLesion(id) {
    const tx = this.#transaction(['lesions', 'entries'], 'readwrite');
    const done = committed(tx);
    await History.#deleteLesions(tx, [id]);
    return done;
  }

  /** Deletes a patient with their lesions and photos, in one transaction. */
  async deletePatient(id) {
    const lesions = (await this.#checked('lesions')).good.filter((l) => l.patient === id).map((l) => l.id);
    const tx = this.#transaction(RECORD_STORES, 'readwrite');
    const done = committed(tx);
    await History.#deleteLesions(tx, lesions);
    tx.objectStore('patients').delete(id);
    return done;
  }

  /** The export file's object: everything; with ``only``, one patient's records (``only``: the patient record's
   * id) or the lesions of no patient (``only`` null). */
  async exportData(only = undefined) {
    const lesions = await this.lesions();
    const nested = (patient) => Promise.all(lesions.filter((l) => (l.patient ?? null) === patient)
      .map(async ({ patient: _patient, ...l }) => ({ ...l, entries: (await this.entries(l.id)).map(({ lesionId, ...entry }) => entry) })));
    const patients = only === undefined ? await this.patients() : [await this.patient(only)].filter(Boolean);
    return historyFile(await Promise.all(patients.map(async (p) => ({ ...p, lesions: await nested(p.id) }))),
      only === undefined || only === null ? await nested(null) : []);
  }

  // The patient here that a file's ``given`` patient is: the same record (id), else the same patient ID; its
  // record with what the file adds, or the file's record as new. A conflict refuses the whole import.
  static #filePatient(here, given) {
    const kept = here.find((p) => p.id === given.id) ?? findPatient(here, given.patientId);
    if (!kept) return { target: given, write: true, added: 1 };
    if (patientKey(kept.patientId) !== patientKey(given.patientId)) {
      throw new RecordRefused(`Nothing was imported: patient ${given.patientId} of the file is kept here with the ` +
        `ID ${kept.patientId} (the same record, its ID changed since). Make the two IDs the same, then import again.`);
    }
    try {
      const { record, changed } = mergePatient(kept, given);
      return { target: record, write: changed, added: 0 };
    } catch (err) {
      if (err instanceof PatientConflict) throw new RecordRefused(`Nothing was imported: ${err.message}`);
      throw err;
    }
  }

  /** Merges a checked file's {patients (each with its lesions), lesions (of no patient)} (history-file.js) in one
   * transaction: a patient already here (same record, or same patient ID) gets the lesions it lacks, a lesion
   * already here (same id) the photos it lacks (by content hash), and an Unassigned lesion here is filed under
   * the file's patient. A lesion filed under another patient here, or a patient whose name or year of birth
   * differs, refuses the whole file. Returns {patients, lesions, entries} added. */
  async importHistory({ patients, lesions }) {
    const here = await this.patients();
    const kept = new Map((await this.lesions()).map((l) => [l.id, l]));
    // an imported photo whose id another lesion's photo already has gets a new id, or it would overwrite that one
    const taken = new Set(await settled(this.#transaction('entries').objectStore('entries').getAllKeys()));
    const records = [];
    const added = { patients: 0, lesions: 0, entries: 0 };
    const place = async (fileLesions, patient) => {
      for (const { entries, ...lesion } of fileLesions) {
        const old = kept.get(lesion.id);
        if (old && patient && old.patient && old.patient !== patient.id) {
          const owner = here.find((p) => p.id === old.patient);
          throw new RecordRefused(`Nothing was imported: lesion “${lesion.name}” is filed under patient ` +
            `${owner.patientId} here and under ${patient.patientId} in the file. Move it to the right patient here ` +
            '(its details), or correct the file, then import again.');
        }
        if (!old || (patient && !old.patient)) {
          records.push(await this.#lesionRecord({ ...(old ?? lesion), ...(patient ? { patient: patient.id } : {}) }));
          added.lesions += old ? 0 : 1;
        }
        const renamed = entries.map((e) => (taken.has(e.id) ? { ...e, id: crypto.randomUUID() } : e));
        const fresh = await this.#newEntryRecords(lesion.id, renamed);
        records.push(...fresh);
        added.entries += fresh.length;
      }
    };
    for (const { lesions: theirs, ...given } of patients) {
      const { target, write, added: count } = History.#filePatient(here, given);
      if (write) records.push(await this.#patientRecord(target));
      if (count) here.push(target);
      added.patients += count;
      await place(theirs, target);
    }
    await place(lesions, null);
    await this.#putAll(records);
    return added;
  }

  // Every readable record re-written with ``key`` (null: in the clear), with the lock record. Records the page
  // cannot read are copied as they are stored: they cannot be re-sealed, and must neither stop the change nor be lost.
  async #rewritten(key) {
    const records = [];
    for (const store of RECORD_STORES) {
      const { good, bad } = await this.#checked(store);
      for (const { id, lesionId, ...content } of good) {
        records.push([store, await this.#pack(store === 'entries' ? { id, lesionId } : { id }, content, key)]);
      }
      const unreadable = new Set(bad.map((b) => b.id));
      for (const stored of await settled(this.#transaction(store).objectStore(store).getAll())) {
        if (unreadable.has(stored.id)) records.push([store, stored]);
      }
    }
    return records;
  }

  static #put(tx, records, lock) {
    records.forEach(([store, r]) => tx.objectStore(store).put(r));
    if (lock) tx.objectStore('meta').put(lock);
    else tx.objectStore('meta').delete('lock');
  }

  // Locking or unlocking: the history is written to a fresh home, read back and compared, marked complete, and
  // only then is the old home deleted, so its files (with whatever it held before) go with it. Stopped at any
  // point, the page finds either the old home whole or the new one whole (currentHome).
  async #rewrite(key, lock) {
    const records = await this.#rewritten(key);
    if (this.#home?.fixed || !this.#home) {
      // this browser cannot list its databases: a moved history could not be found again, so it is re-written
      // in place (the privacy page says what the browser's files may then keep)
      await this.#write(STORES, (tx) => History.#put(tx, records, lock));
    } else {
      const target = await newHome(this.#home.generation + 1);
      const db = await openDatabase(target, { complete: false });
      try {
        const moved = new History(db, lock, this.#model, target);
        moved.#key = key;
        await moved.#write(STORES, (tx) => History.#put(tx, records, lock));
        const count = async (h) => Promise.all(RECORD_STORES.map((s) => settled(h.#transaction(s).objectStore(s).count())));
        const content = async (h) => {
          const { patients, lesions } = await h.exportData();
          return JSON.stringify({ patients, lesions });
        };
        const same = JSON.stringify(await count(moved)) === JSON.stringify(await count(this))
          && await content(moved) === await content(this);
        if (!same) throw new Error('the copy read back differs from the history');
        await moved.#write(['meta'], (tx) => tx.objectStore('meta').put({ key: HOME_RECORD, generation: target.generation }));
      } catch (err) {
        db.close();
        await removeHome(target).catch(() => {}); // the next visit removes it otherwise (no HOME_RECORD)
        throw err instanceof StorageFullError ? err : new Error(`Nothing was changed: the history could not be ` +
          `copied to its new place on this device (${err?.message ?? err}). It is as it was; try again.`);
      }
      const old = this.#home;
      this.#db.close();
      this.#db = db;
      this.#home = target;
      await removeHome(old);
    }
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
 * patient, sex, map point and body part are left out, not stored as a value. */
export function newLesion({ name, site, note, patient = null, sex = null, mapPoint = null, bodyPart = null }) {
  return { id: crypto.randomUUID(), ...(patient ? { patient } : {}), name, site, note, created: new Date().toISOString(),
    ...(sex ? { sex } : {}), ...(mapPoint ? { mapPoint } : {}), ...(bodyPart ? { bodyPart } : {}) };
}

/** The history, or null when none exists yet and ``create`` is false (a visit alone stores nothing). */
export async function openHistory({ create = true, model = null } = {}) {
  if (!globalThis.indexedDB) {
    throw new HistoryUnavailable('This browser gives the page no on-device database (IndexedDB), so the lesion ' +
      'history cannot be kept. Use a current Chrome, Edge, Firefox or Safari, not a private window.');
  }
  let db;
  let home;
  try {
    home = await currentHome();
    if (!home && !create) return null;
    // a new history starts in a home of its own (generation 1), never in the earlier page's database
    home ??= await newHome(1);
    db = await openDatabase(home);
  } catch (err) {
    if (err instanceof HistoryUnavailable) throw err;
    throw new HistoryUnavailable(`The on-device database could not be opened (${err?.message ?? err}). Private ` +
      'windows and pages opened straight from a file may not allow it: open the site over http(s) in a normal window.');
  }
  const lock = await settled(db.transaction('meta').objectStore('meta').get('lock'));
  return new History(db, lock ?? null, model, home);
}

/** The raw database the history is in now (null: none), for tests and tools that read the records as stored. */
export async function currentDatabase() {
  const home = await currentHome();
  return home && openDatabase(home);
}

/** Deletes every home of the history (a move's leftovers included); resolves once nothing is left. */
export async function deleteEverything(history) {
  history?.close();
  const all = await homes();
  for (const home of all ?? [{ generation: 0, bucket: null, name: DB_NAME }]) await removeHome(home);
}

/** Ask the browser not to evict the history under storage pressure; true when it agreed. */
export async function requestPersistence() {
  const granted = navigator.storage?.persist ? await navigator.storage.persist() : false;
  // the history's own bucket is asked too: it is kept or evicted apart from the default storage
  if (await bucketsUsable()) {
    for (const name of (await navigator.storageBuckets.keys()).filter((n) => HOME_NAME.test(n))) {
      await (await navigator.storageBuckets.open(name)).persist();
    }
  }
  return granted;
}

export async function storageSummary() {
  if (!navigator.storage?.estimate) return null;
  const [{ usage, quota }, persisted] = await Promise.all([navigator.storage.estimate(),
    navigator.storage.persisted ? navigator.storage.persisted() : false]);
  return { usage, quota, persisted };
}
