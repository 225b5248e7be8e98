// The dashboard's browser tests: real Chromium against the real emulators,
// a real `vayu-agent`, and the site as `vayu dashboard` serves it. One
// emulator set and one browser for the whole suite; the tests run in
// order (later ones use what earlier ones made). Screenshots go to
// docs/screenshots/. The closing line, "dashboard browser tests: N passed,
// M failed", is counted by test.sh.
//
//   cargo build --bins && node dashboard/tests/run.mjs
import { rmSync } from 'node:fs';
import * as H from './harness.mjs';
import { tests } from './browser.mjs';
import { unitTests } from './unit.mjs';

const only = process.argv[2];
let passed = 0, failed = 0;
const started = Date.now();

async function runOne(name, f, ctx) {
  if (only && !name.includes(only)) return;
  const t0 = Date.now();
  try {
    await Promise.race([f(ctx), H.sleep(90000).then(() => { throw new Error('timed out after 90 s'); })]);
    passed += 1;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    if (ctx?.lastPage) await ctx.lastPage.screenshot({ path: `${H.workDir}/failed-${name.replace(/\W+/g, '-')}.png` }).catch(() => {});
  }
}

try {
  for (const [name, f] of unitTests) await runOne(name, f);
  const emu = await H.emulators();
  const url = await H.dashboard(emu);
  const browser = await H.browser();
  const ctx = { emu, url, browser };
  try {
    for (const [name, f] of tests) await runOne(name, f, ctx);
  } finally {
    await browser.close();
  }
} catch (e) {
  failed += 1;
  console.log(`FAIL set-up: ${e.stack || e}`);
} finally {
  H.stopAll();
}
if (failed) console.log(`(logs in ${H.workDir})`);
else rmSync(H.workDir, { recursive: true, force: true });
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
console.log(`dashboard browser tests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
