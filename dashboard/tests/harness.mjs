// What the browser tests run against: the Firestore emulator (the
// installed jar, with firestore.rules), the Auth emulator (firebase-tools),
// `vayu dashboard` serving the site, and Chromium (Debian's, driven by
// playwright-core). One set for the whole suite; each piece is stopped at
// the end, and by process group, so nothing outlives the run.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, existsSync, openSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const PROJECT = 'demo-vayu';
export const BIN = join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug');
const children = [];
export const workDir = mkdtempSync(join(tmpdir(), 'vayu-dash-'));

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on('error', fail);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a process in its own group, its output in workDir/NAME.log. */
export function start(name, cmd, args, opts = {}) {
  const log = openSync(join(workDir, `${name}.log`), 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log], detached: true, ...opts });
  child.name = name;
  children.push(child);
  return child;
}

export function stop(child, signal = 'SIGTERM') {
  try { process.kill(-child.pid, signal); } catch { /* gone */ }
}

process.on('exit', () => stopAll());

export function stopAll() {
  for (const c of children) stop(c, 'SIGKILL');
}

async function waitFor(what, f, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await f()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`${what} did not come up within ${ms / 1000} s (logs in ${workDir})`);
    await sleep(200);
  }
}

function firebaseTools() {
  const candidates = [process.env.VAYU_FIREBASE_TOOLS, join(homedir(), '.cache/vayu/firebase-tools/node_modules/.bin/firebase')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error('firebase-tools not found (VAYU_FIREBASE_TOOLS or ~/.cache/vayu/firebase-tools; .ci/run installs it)');
}

export async function emulators() {
  const [fsPort, authPort, hub, logging] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  start('firestore', join(ROOT, 'emulator/start.sh'), [String(fsPort)]);
  const dir = mkdtempSync(join(workDir, 'auth-'));
  writeFileSync(join(dir, 'firebase.json'), JSON.stringify({
    emulators: {
      auth: { host: '127.0.0.1', port: authPort }, hub: { host: '127.0.0.1', port: hub },
      logging: { host: '127.0.0.1', port: logging }, ui: { enabled: false },
    },
  }));
  start('auth', firebaseTools(), ['emulators:start', '--only', 'auth', '--project', PROJECT], { cwd: dir });
  const firestore = `127.0.0.1:${fsPort}`;
  const auth = `127.0.0.1:${authPort}`;
  await waitFor('the Firestore emulator', async () => (await fetch(`http://${firestore}/`)).ok);
  await waitFor('the Auth emulator', async () => (await fetch(`http://${auth}/`)).ok);
  const emu = { firestore, auth };
  // The emulator answers HTTP before it has compiled the rules; the first
  // call may take a while on a busy machine.
  await waitFor('the Firestore emulator to serve', async () => { await vayu(emu, ['agent', 'list']); return true; }, 90000);
  return emu;
}

/** The environment of `vayu` and `vayu-agent` against the emulators, as
 * admin (the emulator's owner). */
export function env(emu, extra = {}) {
  return {
    ...process.env, FIRESTORE_EMULATOR_HOST: emu.firestore, FIREBASE_AUTH_EMULATOR_HOST: emu.auth,
    VAYU_PROJECT: PROJECT, VAYU_LOG: 'info', ...extra,
  };
}

/** `vayu dashboard` against the emulators; `withAuth: false` leaves the
 * Auth emulator out, as `vayu demo` does (mock-token sign-in). */
export async function dashboard(emu, { withAuth = true } = {}) {
  const port = await freePort();
  const args = ['dashboard', '--port', String(port), ...(withAuth ? ['--auth-emulator', emu.auth] : [])];
  start(`dashboard-${port}`, join(BIN, 'vayu'), args, { env: env(emu, { FIREBASE_AUTH_EMULATOR_HOST: '' }) });
  const url = `http://127.0.0.1:${port}/`;
  await waitFor('vayu dashboard', async () => (await fetch(`${url}config.json`)).ok, 20000);
  return url;
}

/** A person in the Auth emulator with a role claim (as `vayu user add`
 * gives one), signing in with email and password. */
export async function addUser(emu, name, role) {
  const base = `http://${emu.auth}/identitytoolkit.googleapis.com/v1/projects/${PROJECT}/accounts`;
  const headers = { 'content-type': 'application/json', authorization: 'Bearer owner' };
  const email = `${name}@example.com`;
  const res = await fetch(base, { method: 'POST', headers, body: JSON.stringify({ email, password: 'secret-pass', localId: name }) });
  if (!res.ok) throw new Error(`creating ${name}: ${await res.text()}`);
  const upd = await fetch(`${base}:update`, {
    method: 'POST', headers, body: JSON.stringify({ localId: name, customAttributes: JSON.stringify({ role }) }),
  });
  if (!upd.ok) throw new Error(`giving ${name} a role: ${await upd.text()}`);
  return { uid: name, email, password: 'secret-pass', role };
}

/** A document as the emulator's admin reads it (REST JSON). */
export async function getDoc(emu, path) {
  const url = `http://${emu.firestore}/v1/projects/${PROJECT}/databases/(default)/documents/${path}`;
  const res = await fetch(url, { headers: { authorization: 'Bearer owner' } });
  return res.json();
}

/** Runs `vayu ARGS` as admin; resolves with stdout. */
export function vayu(emu, args, extraEnv = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(join(BIN, 'vayu'), args, { env: env(emu, extraEnv) });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`vayu ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

export function agent(emu, id, handler, args = []) {
  return start(`agent-${id}`, join(BIN, 'vayu-agent'), [
    '--id', id, '--concurrency', '2', '--heartbeat-secs', '0.5', '--lease-secs', '2', '--grace-secs', '2',
    '--handler', handler, ...args,
  ], { env: env(emu) });
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.VAYU_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Signs `user` in on a fresh page of `ctx` at `url`. */
export async function signIn(ctx, url, user) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password (Auth emulator)').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#whoami').filter({ hasText: user.role }).waitFor();
  return page;
}
