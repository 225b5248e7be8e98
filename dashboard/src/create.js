// A new task, as src/tasks.rs `create` makes it: the document of
// `NewTask::into_task` (core/src/model), checked as `Task::validate_new`
// checks it, created in the queued pile in one commit with the caller's
// quota window (src/store/quota.rs), then registered with the tasks it
// waits for (src/deps/waiters.rs).
import {
  doc, writeBatch, serverTimestamp, increment, arrayUnion, Timestamp, setDoc, getDoc, updateDoc,
} from 'firebase/firestore';
import { getDb } from './firebase.js';
import { rankOf, TYPES, PRIORITIES, COMPLEXITIES } from './model.js';

// core/src/model/limits.rs and src/schema.rs patterns.
export const LIMITS = {
  TITLE_MAX: 500, INPUT_MAX: 65536, TAGS_MAX: 20, TAG_MAX: 64, REQUIRES_MAX: 20,
  DEPENDENCIES_MAX: 50, MAX_RETRIES_MAX: 20, TIMEOUT_SECS_MAX: 604800, ESTIMATE_MAX_MIN: 10080,
};
const TAG = /^[A-Za-z0-9 _.:/+#@-]{1,64}$/;
const CAPABILITY = /^[A-Za-z0-9_.:/+-]{1,64}$/;
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const REVIEW_POLICIES = ['none', 'self', 'peer', 'user', 'tests', 'self+peer', 'peer+user', 'self+peer+user', 'user+tests'];
const LANES = 15; // core/src/spread.rs
const QUOTA_KEEP_MS = 24 * 3600 * 1000;

const bytes = (s) => new TextEncoder().encode(s).length;

/** The errors of a wizard's answers, as the CLI words them; [] if none. */
export function validate(a) {
  const e = [];
  if (!TYPES.includes(a.type)) e.push(`type must be one of ${TYPES.join(', ')}`);
  if (!PRIORITIES.includes(a.priority)) e.push(`priority must be one of ${PRIORITIES.join(', ')}`);
  if (!a.title || !a.title.trim()) e.push('the title is empty');
  else if (bytes(a.title) > LIMITS.TITLE_MAX) e.push(`the title is over ${LIMITS.TITLE_MAX} bytes`);
  if (bytes(a.input || '') > LIMITS.INPUT_MAX) e.push(`the input is over ${LIMITS.INPUT_MAX} bytes`);
  if (a.tags.length > LIMITS.TAGS_MAX || a.tags.some((t) => !TAG.test(t))) {
    e.push(`at most ${LIMITS.TAGS_MAX} tags of 1 to ${LIMITS.TAG_MAX} of A-Z a-z 0-9 space _ . : / + # @ -`);
  }
  if (a.requires.length > LIMITS.REQUIRES_MAX || a.requires.some((t) => !CAPABILITY.test(t))) {
    e.push(`at most ${LIMITS.REQUIRES_MAX} capabilities of 1 to 64 of A-Z a-z 0-9 _ . : / + -`);
  }
  if (!Number.isInteger(a.maxRetries) || a.maxRetries < 0 || a.maxRetries > LIMITS.MAX_RETRIES_MAX) {
    e.push(`max_retries must be 0..=${LIMITS.MAX_RETRIES_MAX}`);
  }
  if (a.timeoutSecs != null && (!Number.isInteger(a.timeoutSecs) || a.timeoutSecs < 1 || a.timeoutSecs > LIMITS.TIMEOUT_SECS_MAX)) {
    e.push(`the timeout must be 1 to ${LIMITS.TIMEOUT_SECS_MAX} seconds`);
  }
  if (a.estimate != null && !(a.estimate > 0 && a.estimate <= LIMITS.ESTIMATE_MAX_MIN)) {
    e.push(`the estimate must be more than 0 and at most ${LIMITS.ESTIMATE_MAX_MIN} minutes`);
  }
  if (!COMPLEXITIES.includes(a.complexity)) e.push(`complexity must be one of ${COMPLEXITIES.join(', ')}`);
  if (a.after.length > LIMITS.DEPENDENCIES_MAX) e.push(`at most ${LIMITS.DEPENDENCIES_MAX} dependencies`);
  const bad = a.after.find((id) => !TASK_ID.test(id));
  if (bad) e.push(`'${bad}' is not a task id`);
  if (new Set(a.after).size !== a.after.length) e.push('a dependency is listed twice');
  if (!REVIEW_POLICIES.includes(a.review)) e.push(`the review policy must be one of ${REVIEW_POLICIES.join(', ')}`);
  return e;
}

/** The stored document of a new task (created_at and updated_at are the
 * server's time, set in the commit). */
export function newTaskDoc(a, uid, id = crypto.randomUUID()) {
  const metadata = { complexity: a.complexity, tags: a.tags, retry_count: 0, max_retries: a.maxRetries };
  if (a.estimate != null) metadata.estimated_duration = a.estimate;
  if (a.timeoutSecs != null) metadata.timeout_secs = a.timeoutSecs;
  const dependencies = { blocking: [], blocked_by: a.after };
  if (a.after.length && a.onDepFailure === 'run') dependencies.on_failure = 'run';
  return {
    task_id: id,
    type: a.type,
    status: a.after.length ? 'blocked' : 'queued',
    created_at: serverTimestamp(),
    updated_at: serverTimestamp(),
    priority: a.priority,
    priority_rank: rankOf(a.priority),
    // The CLI picks the lane by hashing the random id; a random lane
    // spreads the same way.
    lane: Math.floor(Math.random() * LANES),
    title: a.title,
    input: a.input || '',
    requires: a.requires,
    requester: { type: 'human', id: uid, context: a.context || '' },
    assignment: { collaborators: [] },
    dependencies,
    execution: { progress: 0, checkpoints: [], artifacts: [], logs: [], log_lines: 0, attempt: 0 },
    review: a.review && a.review !== 'none' ? { policy: a.review } : {},
    metadata,
    lease: { epoch: 0 },
    history: [],
  };
}

/** Creates it; returns the id. */
export async function createTask(answers, uid) {
  const errors = validate(answers);
  if (errors.length) throw Object.assign(new Error(errors.join('; ')), { code: 'invalid' });
  const task = newTaskDoc(answers, uid);
  await commitNew(task, uid);
  return task.task_id;
}

/** Writes `doc` at `ref` in one commit with the caller's quota window of
 * this minute naming `id` (firestore.rules `withinQuota`): how a new task
 * and a workflow's run are paid for. */
export async function commitPaid(ref, data, id, uid) {
  const db = getDb();
  const minute = Math.floor(Date.now() / 60000);
  const batch = writeBatch(db);
  batch.set(ref, data);
  batch.set(doc(db, 'quota', `${uid}@${minute}`), {
    last_task: id,
    expire_at: Timestamp.fromMillis(Date.now() + QUOTA_KEEP_MS),
    count: increment(1),
  }, { merge: true });
  await batch.commit();
}

/** Creates `task` in the queued pile, then registers it with the tasks it
 * waits for, and marks each that no dependent has marked yet (unless they
 * were created marked: a workflow's steps, `premarked`). */
export async function commitNew(task, uid, { premarked = false } = {}) {
  const db = getDb();
  await commitPaid(doc(db, 'tasks', 'queued', 'queued_tasks', task.task_id), task, task.task_id, uid);
  for (const dep of task.dependencies.blocked_by) {
    // A refusal (a dependency with too many waiters) is left to the
    // agents' sweep, as the CLI does.
    await setDoc(doc(db, 'waiters', dep), { dependents: arrayUnion(task.task_id) }, { merge: true }).catch(() => {});
    if (!premarked) await markDependency(db, dep, task.task_id);
  }
}

/** Names `id` in `dep`'s `dependencies.blocking` while `dep` is queued or
 * running and no dependent has yet (src/deps/waiters.rs `mark`,
 * firestore.rules isBlockingMark): whoever ends `dep` reads its waiters
 * only then. An append judged on the document as it stands, not on the
 * version read: a running task's holder renews it every few seconds. A
 * dependency that ended needs no mark; a refusal is left to the agents'
 * sweep. */
async function markDependency(db, dep, id) {
  for (const pile of ['queued', 'active']) {
    const ref = doc(db, 'tasks', pile, `${pile}_tasks`, dep);
    const seen = await getDoc(ref).catch(() => null);
    if (!seen?.exists()) continue;
    if ((seen.data().dependencies?.blocking || []).length > 0) return;
    await updateDoc(ref, { 'dependencies.blocking': arrayUnion(id), updated_at: serverTimestamp() }).catch(() => {});
    return;
  }
}
