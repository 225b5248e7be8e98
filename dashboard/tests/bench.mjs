// Reads per page load at scale (docs/bench.md): seeds N tasks (default
// 10,000) across the states with the emulator's admin token, opens each
// view signed in as an admin, and reports what the page counted
// (`window.__vayuReads`: documents delivered to its listeners and queries,
// and aggregation reads, billed one per 1,000 index entries counted).
// Not part of the suite (it takes a minute):
//
//   cargo build --bins && node dashboard/tests/bench.mjs [N]
import * as H from './harness.mjs';

const N = Number(process.argv[2] || 10000);
const MIX = [['completed', 0.6], ['queued', 0.2], ['failed', 0.08], ['cancelled', 0.05], ['executing', 0.03], ['blocked', 0.02], ['paused', 0.02]];
const PILE = { completed: 'completed', failed: 'completed', cancelled: 'completed', queued: 'queued', blocked: 'queued', paused: 'queued', executing: 'active' };

async function seed(emu) {
  const base = `http://${emu.firestore}/v1/projects/${H.PROJECT}/databases/(default)/documents`;
  const headers = { authorization: 'Bearer owner', 'content-type': 'application/json' };
  const id = (await H.vayu(emu, ['task', 'create', 'bench template', '--tag', 'bench'])).trim();
  const tpl = await (await fetch(`${base}/tasks/queued/queued_tasks/${id}`, { headers })).json();
  const statuses = MIX.flatMap(([s, share]) => Array(Math.round(share * N)).fill(s));
  const t0 = Date.now();
  for (let i = 0; i < statuses.length; i += 500) {
    const writes = statuses.slice(i, i + 500).map((status, j) => {
      const n = i + j;
      const taskId = `bench-${String(n).padStart(6, '0')}`;
      const f = structuredClone(tpl.fields);
      f.task_id = { stringValue: taskId };
      f.status = { stringValue: status };
      f.title = { stringValue: `Bench task ${n}` };
      const at = new Date(Date.now() - (N - n) * 1000).toISOString();
      f.created_at = { timestampValue: at };
      f.updated_at = { timestampValue: at };
      const pile = PILE[status];
      return { update: { name: `projects/${H.PROJECT}/databases/(default)/documents/tasks/${pile}/${pile}_tasks/${taskId}`, fields: f } };
    });
    const res = await fetch(`${base}:batchWrite`, { method: 'POST', headers, body: JSON.stringify({ writes }) });
    if (!res.ok) throw new Error(`seeding: ${await res.text()}`);
  }
  console.log(`seeded ${statuses.length} tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function measure(ctx, route, settle) {
  const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(ctx.url);
  await page.getByLabel('Email').fill(ctx.user.email);
  await page.getByLabel('Password (Auth emulator)').fill(ctx.user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#whoami').waitFor();
  // Count from the view's own load only: sign-in lands on the board.
  await page.evaluate(() => { location.hash = '#/none'; });
  const t0 = Date.now();
  await page.evaluate((r) => {
    Object.assign(window.__vayuReads, { documents: 0, aggregations: 0, listeners: 0 });
    location.hash = r;
  }, route);
  await settle(page);
  await page.waitForTimeout(2000);
  const r = await page.evaluate(() => ({ ...window.__vayuReads }));
  await page.close();
  return { route, ...r, total: r.documents + r.aggregations, ms: Date.now() - t0 };
}

const emu = await H.emulators();
await seed(emu);
const url = await H.dashboard(emu);
const browser = await H.browser();
const user = await H.addUser(emu, 'bench', 'admin');
const ctx = { url, browser, user };
const rows = [
  await measure(ctx, '#/board', (p) => p.locator('[data-column="completed"] .count').filter({ hasText: /\d{3,}/ }).waitFor()),
  await measure(ctx, '#/queue', (p) => p.locator('ol.queue > li[data-task]').first().waitFor()),
  await measure(ctx, '#/agents', (p) => p.locator('main h2').waitFor()),
  await measure(ctx, '#/analytics', (p) => p.locator('main[data-ready="true"]').waitFor({ timeout: 60000 })),
  await measure(ctx, '#/mine', (p) => p.locator('main h2').waitFor()),
];
await browser.close();
H.stopAll();
console.log(`| view | documents read | aggregation reads | total reads | listeners | time to settle |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
for (const r of rows) console.log(`| ${r.route} | ${r.documents} | ${r.aggregations} | ${r.total} | ${r.listeners} | ${(r.ms / 1000).toFixed(1)} s |`);
process.exit(0);
