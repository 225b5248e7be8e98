// What a person does to a task from the page: the very writes the CLI
// makes (src/tasks.rs `control` and `requeue`, src/edit.rs `edit`), so the
// same rules judge them. Each reads the task in a transaction, so the
// write is conditioned on the version read, as the CLI's replace_task is:
// a move between piles is [delete old, create new] in one commit.
import {
  doc, getDoc, runTransaction, serverTimestamp, Timestamp,
} from 'firebase/firestore';
import { getDb } from './firebase.js';
import { pileOf, canStep, rankOf } from './model.js';
import { session } from './session.js';

const HISTORY_KEPT = 50; // core/src/model/limits.rs
const NOTE_MAX = 500;

export function taskRef(pile, id) {
  return doc(getDb(), 'tasks', pile, `${pile}_tasks`, id);
}

/** Whether the signed-in person may control `t` (firestore.rules
 * `mayControl`): its requester with an operator role, or an admin. */
export function mayControl(t) {
  const { uid, role } = session();
  return role === 'admin' || (['operator', 'reviewer'].includes(role) && t.requester?.id === uid);
}

/** The actions the page offers on a card: the lifecycle allows them and
 * the role may. A viewer sees them only with `showAll` (to show what the
 * rules would refuse). */
export function actionsFor(t, showAll = false) {
  if (!showAll && !mayControl(t)) return [];
  const s = t.status;
  const out = [];
  if (canStep(s, 'paused')) out.push('pause');
  if (canStep(s, 'cancelled')) out.push('cancel');
  if (s === 'paused') out.push('resume');
  if (s === 'failed') out.push('requeue');
  if (['queued', 'blocked'].includes(s)) out.push('priority');
  return out;
}

function leaseLive(t, now) {
  const e = t.lease?.expires_at;
  return e != null && e.toMillis() > now;
}

/** core Task::record: append, keep the newest 50. */
function record(t, status, note, agent) {
  const entry = { status, at: Timestamp.now(), epoch: t.lease?.epoch ?? 0 };
  if (agent) entry.agent = agent;
  if (note) entry.note = note.length > NOTE_MAX ? `${note.slice(0, NOTE_MAX)}…` : note;
  const history = [...(t.history || []), entry];
  return history.slice(Math.max(0, history.length - HISTORY_KEPT));
}

/** Writes `next` for a task read as `old` from `pile`, in `tx`. */
function replace(tx, pile, old, next) {
  const to = pileOf(next.status);
  const data = { ...next, updated_at: serverTimestamp() };
  if (to === pile) {
    tx.set(taskRef(pile, old.task_id), data);
  } else {
    tx.delete(taskRef(pile, old.task_id));
    tx.set(taskRef(to, old.task_id), data);
  }
}

async function readIn(tx, pile, id) {
  const snap = await tx.get(taskRef(pile, id));
  if (!snap.exists()) {
    const e = new Error('the task moved on meanwhile (reload the card and try again)');
    e.code = 'aborted';
    throw e;
  }
  return snap.data();
}

/** src/tasks.rs `control`: cancel or pause. A task an agent runs under a
 * live lease is asked (`control`), which its agent obeys within one
 * heartbeat; any other moves at once. Returns what happened, in words. */
export async function control(pile, id, req) {
  const team = await teamOf(pile, id);
  let said;
  try {
    said = await move(pile, id, req);
  } catch (e) {
    // A team's parent waits blocked, or ended with a part: its parts
    // still take the request (src/tasks.rs `pause`, `cancel`).
    if (!team) throw e;
    said = `${req} sent to the team's open parts`;
  }
  if (said === 'now cancelled') await releaseDependents(id);
  if (team) await cascade(id, team, req);
  return said;
}

/** The task's `team` when it is a team's parent (one read). */
async function teamOf(pile, id) {
  const snap = await getDoc(taskRef(pile, id)).catch(() => null);
  return snap?.exists() ? snap.data().team || null : null;
}

/** src/teams.rs `cascade`: the request to each of the parent's own open
 * parts (`{parent}-pK`); a part's refusal leaves the others asked. */
async function cascade(parent, team, req) {
  for (const part of team.parts || []) {
    if (!part.startsWith(`${parent}-p`)) continue;
    for (const pile of ['queued', 'active']) {
      const snap = await getDoc(taskRef(pile, part)).catch(() => null);
      if (!snap?.exists()) continue;
      if (!(req === 'pause' && snap.data().status === 'paused')) {
        await move(pile, part, req).catch(() => null);
      }
      break;
    }
  }
}

/** One more try, on a fresh read, before a refusal by the rules stands.
 * Under CI load the emulator once refused an admin's cancel of a running
 * task that passes every other time (and whose rule asks only that the
 * control alone changed). The likely cause, not proven: its agent's
 * heartbeat landed between the transaction's read and its commit, and
 * the write was judged against the newer version instead of aborted.
 * A refusal that stands costs one more request and 300 ms. */
async function againIfRefused(attempt) {
  try {
    return await attempt();
  } catch (e) {
    if (String(e?.code ?? '').replace(/^firestore\//, '') !== 'permission-denied') throw e;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return attempt();
  }
}

function move(pile, id, req) {
  return againIfRefused(() => moveOnce(pile, id, req));
}

async function moveOnce(pile, id, req) {
  const target = req === 'cancel' ? 'cancelled' : 'paused';
  return runTransaction(getDb(), async (tx) => {
    const t = await readIn(tx, pile, id);
    if (pile === 'active' && leaseLive(t, Date.now())) {
      if (t.control === req) return `${req} requested`;
      replace(tx, pile, t, { ...t, control: req });
      return `${req} requested; the agent running it obeys within one heartbeat`;
    }
    if (!canStep(t.status, target)) throw plain(`a ${t.status} task cannot be ${target}`);
    const next = { ...t, status: target, lease: { epoch: t.lease?.epoch ?? 0 } };
    delete next.control;
    next.history = record(t, target, `${req} by ${session().uid}`);
    replace(tx, pile, t, next);
    return `now ${target}`;
  });
}

/** src/deps/waiters.rs `release_dependents` after a cancel: each blocked
 * task registered as waiting for it (`waiters/{id}`) that cancels when a
 * dependency fails (the default) is cancelled, naming it, as
 * src/deps/settle.rs does (firestore.rules `isDepCancel`), and so on down
 * the chain. What this does not settle (`--on-dep-failure run`, another
 * person's task the rules refuse) the agents' sweep settles. */
async function releaseDependents(id) {
  const ended = [id];
  for (let settled = 0; ended.length && settled < 100;) {
    const dep = ended.pop();
    const waiters = await getDoc(doc(getDb(), 'waiters', dep)).catch(() => null);
    for (const w of waiters?.data()?.dependents || []) {
      settled += 1;
      const cancelled = await runTransaction(getDb(), async (tx) => {
        const snap = await tx.get(taskRef('queued', w));
        const t = snap.exists() ? snap.data() : null;
        const d = t?.dependencies;
        if (t?.status !== 'blocked' || (d.on_failure ?? 'cancel') !== 'cancel' || !d.blocked_by.includes(dep)) return false;
        const next = { ...t, status: 'cancelled', dependencies: { ...d, failed: dep } };
        next.history = record(t, 'cancelled', `dependency ${dep} was cancelled`, session().uid);
        replace(tx, 'queued', t, next);
        return true;
      }).catch(() => false);
      if (cancelled) ended.push(w);
    }
  }
}

/** src/tasks.rs `resume` (paused → queued) and `retry` (failed → queued,
 * with fresh retries). */
export async function requeue(pile, id, from) {
  const note = from === 'failed' ? 'retried by hand' : 'resumed';
  return runTransaction(getDb(), async (tx) => {
    const t = await readIn(tx, pile, id);
    if (t.status !== from) throw plain(`only a ${from} task can be ${note}`);
    const next = { ...t, status: 'queued' };
    delete next.control;
    delete next.not_before;
    if (from === 'failed') next.metadata = { ...t.metadata, retry_count: 0 };
    next.history = record(t, 'queued', `${note} by ${session().uid}`);
    replace(tx, pile, t, next);
    return 'now queued';
  });
}

/** src/edit.rs with `--priority`: a queued or blocked task only. */
export async function setPriority(id, priority) {
  return runTransaction(getDb(), async (tx) => {
    const t = await readIn(tx, 'queued', id);
    if (!['queued', 'blocked'].includes(t.status)) {
      throw plain(`${id} is ${t.status}: only a queued or blocked task can be edited`);
    }
    if (t.priority === priority) return `already ${priority}`;
    replace(tx, 'queued', t, { ...t, priority, priority_rank: rankOf(priority) });
    return `priority now ${priority}`;
  });
}

function plain(msg) {
  const e = new Error(msg);
  e.code = 'invalid';
  return e;
}
