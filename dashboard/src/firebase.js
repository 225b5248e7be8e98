// Firebase set-up from /config.json, and the two ways the page reads:
// live listeners (`watch`) and aggregate counts (`count`). Both are counted
// in `window.__vayuReads`, so a test (and docs/bench.md) can measure what
// a page load costs.
import { initializeApp } from 'firebase/app';
import { getAuth, connectAuthEmulator } from 'firebase/auth';
import {
  getFirestore, connectFirestoreEmulator, onSnapshot, getCountFromServer,
} from 'firebase/firestore';

export const reads = { documents: 0, aggregations: 0, listeners: 0 };
window.__vayuReads = reads;

let app, auth, db, config;

/** The mock identity used against a Firestore emulator without an Auth
 * emulator (`vayu demo`): chosen on the sign-in form, kept per tab. */
export function mockIdentity() {
  const raw = sessionStorage.getItem('vayu-mock-user');
  return raw ? JSON.parse(raw) : null;
}

export async function init() {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`/config.json: HTTP ${res.status}`);
  config = await res.json();
  app = initializeApp({
    apiKey: config.apiKey || 'demo-key',
    authDomain: config.authDomain || `${config.projectId}.firebaseapp.com`,
    projectId: config.projectId,
  });
  auth = getAuth(app);
  db = getFirestore(app, config.databaseId || '(default)');
  const emu = config.emulators || {};
  if (emu.auth) connectAuthEmulator(auth, emu.auth, { disableWarnings: true });
  if (emu.firestore) {
    const [host, port] = emu.firestore.split(':');
    const mock = !emu.auth ? mockIdentity() : null;
    const opts = mock ? { mockUserToken: mockToken(mock) } : {};
    connectFirestoreEmulator(db, host, Number(port), opts);
  }
  return config;
}

function mockToken({ uid, role }) {
  return { sub: uid, user_id: uid, role, firebase: { sign_in_provider: 'password', identities: {} } };
}

export const getConfig = () => config;
export const getDb = () => db;
export const getAuthInstance = () => auth;

/** A live listener, counted: every document a snapshot delivers is a read
 * (the first snapshot delivers all matches, later ones the changes). */
export function watch(ref, onData, onError) {
  reads.listeners += 1;
  const isQuery = ref.type === 'query' || ref.type === 'collection';
  return onSnapshot(ref, (snap) => {
    reads.documents += isQuery ? snap.docChanges().filter((c) => c.type !== 'removed').length : 1;
    onData(snap);
  }, (err) => { console.error(err); if (onError) onError(err); });
}

/** An aggregate count: billed as one read per 1,000 index entries. */
export async function count(q) {
  const snap = await getCountFromServer(q);
  const n = snap.data().count;
  reads.aggregations += Math.max(1, Math.ceil(n / 1000));
  return n;
}

/** Epoch milliseconds of a Firestore timestamp, or null. */
export function ms(ts) {
  return ts && typeof ts.toMillis === 'function' ? ts.toMillis() : null;
}
