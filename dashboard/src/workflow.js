// Starting a run of a built-in workflow from the page, as
// src/workflows/mod.rs `start` does for `vayu task create --workflow`:
// everything checked first (plan.js `prepare`, and the caller's quota
// window of this minute must pay for the run and every step), then
//   1. the run's document, `workflows/{run_id}`, paid like a task;
//   2. each step's task, wave by wave (every dependency exists before its
//      dependent; a wave's steps side by side), one paid commit each, a
//      step that runs after others created blocked on them and registered
//      in their `waiters`.
// A create that fails half way cancels the steps made so far and the run.
// The same rules judge every write as they judge the CLI's.
import { doc, getDoc, updateDoc, serverTimestamp } from 'firebase/firestore';
import { getDb } from './firebase.js';
import { newTaskDoc, commitPaid, commitNew } from './create.js';
import { control } from './actions.js';
import { prepare } from './plan.js';
import TEMPLATES from './workflows.json';

/** The built-in templates, in the seed's order (`vayu workflow templates`). */
export const WORKFLOWS = TEMPLATES;

/** src/store/quota.rs PERSON_LIMIT (firestore.rules `quotaLimit`). */
const PERSON_LIMIT = 300;

/** The task a step becomes (src/workflows/mod.rs `step_task`). */
function stepTask(run, s, uid) {
  const { step } = s;
  return newTaskDoc({
    type: step.type, priority: step.priority, title: step.title, input: s.input, tags: [], requires: step.requires,
    maxRetries: 3, timeoutSecs: null, estimate: null, complexity: 'simple', after: s.after, onDepFailure: 'cancel',
    review: step.review, context: `step ${step.id} of workflow ${run.name} (run ${run.run_id})`,
  }, uid, s.task_id);
}

/** Each step a later step waits for is created marked with its first
 * dependent (src/workflows/mod.rs `premark`): marking it afterwards would
 * cost a commit per dependency. */
function premark(tasks) {
  const first = new Map();
  for (const t of tasks) {
    for (const d of t.dependencies.blocked_by) if (!first.has(d)) first.set(d, t.task_id);
  }
  for (const t of tasks) if (first.has(t.task_id)) t.dependencies.blocking = [first.get(t.task_id)];
}

/** src/workflows/mod.rs `check_quota`: refuses a start this minute's
 * window cannot pay for in full, before anything is written. */
async function checkQuota(uid, creates) {
  const minute = Math.floor(Date.now() / 60000);
  const snap = await getDoc(doc(getDb(), 'quota', `${uid}@${minute}`));
  const used = snap.exists() ? Number(snap.data().count) || 0 : 0;
  const left = Math.max(0, PERSON_LIMIT - used);
  if (creates > left) {
    const secs = 60 - (Math.floor(Date.now() / 1000) % 60);
    throw Object.assign(new Error(`starting this workflow creates ${creates} documents and ${left} of your ${PERSON_LIMIT} creates this minute are left; try again in ${secs} s (nothing was written)`), { code: 'invalid' });
  }
}

/** Starts a run of `spec` with the `given` inputs as `uid`; returns the
 * run as written and its steps' tasks in plan order. */
export async function startWorkflow(spec, given, uid) {
  const runId = crypto.randomUUID();
  const { run, steps } = prepare(spec, runId, given, uid);
  const tasks = steps.map((s) => stepTask(run, s, uid));
  premark(tasks);
  await checkQuota(uid, tasks.length + 1);
  const db = getDb();
  const runRef = doc(db, 'workflows', runId);
  await commitPaid(runRef, { ...run, started_at: serverTimestamp() }, runId, uid);
  const made = [];
  try {
    for (let w = 0; w <= steps.at(-1).wave; w += 1) {
      const wave = tasks.filter((_, i) => steps[i].wave === w);
      await Promise.all(wave.map((t) => commitNew(t, uid, { premarked: true }).then(() => made.push(t.task_id))));
    }
  } catch (e) {
    await abandon(runRef, made, uid);
    throw e;
  }
  return { run, tasks };
}

/** After a failed create: the steps made so far are cancelled (wherever
 * they are by now) and the run is marked cancelled. Best effort: the
 * create's error is what the person is shown. */
async function abandon(runRef, made, uid) {
  for (const id of made) {
    await control('queued', id, 'cancel').catch(() => control('active', id, 'cancel')).catch(() => null);
  }
  await updateDoc(runRef, { state: 'cancelled', cancelled_by: uid, cancelled_at: serverTimestamp() }).catch(() => null);
}
