// Checks that need no browser: the page's ageing, its merge of an agent's
// registration with its presence and its plan of a workflow run equal the
// core's (the shared vectors), and the committed bundle is a fresh build.
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
  ['the plan of a workflow run agrees with core/src/workflow/run.rs on the shared vectors', async () => {
    const { prepare } = await import('../src/plan.js');
    const v = JSON.parse(readFileSync(`${here}vectors.json`, 'utf8'));
    const templates = JSON.parse(readFileSync(`${here}../src/workflows.json`, 'utf8'));
    for (const c of v.workflows) {
      const spec = templates.find((t) => t.name === c.template);
      let got;
      try {
        const { run, steps } = prepare(spec, c.run_id, c.given, c.by);
        got = { run, steps: steps.map((p) => ({ task_id: p.task_id, wave: p.wave, after: p.after, input: p.input, requires: p.step.requires })) };
      } catch (e) { got = { error: e.message }; }
      const want = c.error != null ? { error: c.error } : { run: c.run, steps: c.steps };
      const canon = (x) => JSON.stringify(x, (k, val) => (val && typeof val === 'object' && !Array.isArray(val)
        ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => (a < b ? -1 : 1))) : val));
      assert(canon(got) === canon(want), `${c.template} ${JSON.stringify(c.given)}: ${canon(got).slice(0, 300)} is not ${canon(want).slice(0, 300)}`);
    }
  }],
  ['the committed bundle is a fresh build of dashboard/src', async () => {
    execFileSync(process.execPath, [`${here}../build.mjs`, '--check'], { stdio: 'pipe' });
  }],
];
