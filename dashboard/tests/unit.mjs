// Checks that need no browser: the page's ageing and its merge of an
// agent's registration with its presence equal the core's (the shared
// vectors), and the committed bundle is a fresh build.
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
  ['the merge of registration and presence agrees with core/src/model/agent.rs on the shared vectors', async () => {
    const m = await import('../src/model.js');
    const v = JSON.parse(readFileSync(`${here}vectors.json`, 'utf8'));
    const times = (d) => d && Object.fromEntries(Object.entries(d).map(([k, x]) =>
      [k, ['last_heartbeat', 'beat_at'].includes(k) && x != null ? (v.origin_secs + x) * 1000 : x]));
    for (const c of v.presence) {
      const seen = m.withPresence(times(c.agent), times(c.beat));
      for (const [k, want] of Object.entries(times(c.seen))) {
        assert(JSON.stringify(seen[k]) === JSON.stringify(want), `${c.name}: ${k} is ${JSON.stringify(seen[k])}, not ${JSON.stringify(want)}`);
      }
    }
  }],
  ['the committed bundle is a fresh build of dashboard/src', async () => {
    execFileSync(process.execPath, [`${here}../build.mjs`, '--check'], { stdio: 'pipe' });
  }],
];
