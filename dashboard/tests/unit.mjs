// Checks that need no browser: the page's ageing equals the agents'
// (the shared vectors), and the committed bundle is a fresh build.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export const unitTests = [
  ['ageing agrees with core/src/assign/ageing.rs on the shared vectors', async () => {
    const m = await import('../src/model.js');
    const v = JSON.parse(readFileSync(`${here}vectors.json`, 'utf8'));
    const at = (s) => (v.origin_secs + s) * 1000;
    const now = at(v.now_secs);
    const step = v.step_secs * 1000;
    const tasks = v.tasks.map((t) => ({
      task_id: t.id, priority: t.priority, created_at: at(t.created), not_before: t.not_before == null ? null : at(t.not_before),
    }));
    for (const [i, t] of tasks.entries()) {
      assert(m.effectiveRank(t, now, step) === v.tasks[i].effective_rank, `effective rank of ${t.task_id}`);
      assert(m.overdue(t, now, step) === v.tasks[i].overdue, `overdue of ${t.task_id}`);
    }
    const order = m.claimOrder(tasks, now, step).map((t) => t.task_id);
    assert(JSON.stringify(order) === JSON.stringify(v.claim_order), `claim order ${order}`);
  }],
  ['the committed bundle is a fresh build of dashboard/src', async () => {
    execFileSync(process.execPath, [`${here}../build.mjs`, '--check'], { stdio: 'pipe' });
  }],
];
