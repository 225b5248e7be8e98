// The task model as the dashboard needs it: mirrors core/src/lifecycle.rs,
// core/src/layout.rs, core/src/assign/ageing.rs and core/src/model/agent.rs
// `with_presence` (tests/dashboard.rs and dashboard/tests check the shared
// vectors in dashboard/tests/vectors.json).

/** Lifecycle states in board order (one column each): every status
 * core/src/lifecycle.rs has, `created` included (the rules accept it for
 * a stored task, though the CLI creates queued or blocked). */
export const STATUSES = [
  'created', 'blocked', 'queued', 'paused', 'assigned', 'executing', 'reviewing',
  'rejected', 'completed', 'failed', 'cancelled', 'skipped',
];

export const PRIORITIES = ['critical', 'high', 'normal', 'low'];
export const TYPES = ['user_request', 'maintenance', 'scheduled', 'research', 'learning', 'ci'];
export const COMPLEXITIES = ['simple', 'moderate', 'complex'];
export const ROLES = ['viewer', 'operator', 'reviewer', 'admin'];

/** core/src/layout.rs `Pile::of`. */
export function pileOf(status) {
  if (['created', 'queued', 'blocked', 'paused', 'rejected'].includes(status)) return 'queued';
  if (['assigned', 'executing', 'reviewing'].includes(status)) return 'active';
  return 'completed';
}

/** core/src/lifecycle.rs `can_transition` (firestore.rules `next`). */
const NEXT = {
  created: ['queued', 'blocked', 'cancelled'],
  blocked: ['queued', 'cancelled', 'skipped'],
  queued: ['assigned', 'blocked', 'paused', 'cancelled'],
  assigned: ['executing', 'queued', 'paused', 'failed', 'cancelled'],
  executing: ['reviewing', 'completed', 'failed', 'paused', 'queued', 'cancelled'],
  reviewing: ['completed', 'rejected', 'cancelled'],
  rejected: ['assigned', 'queued', 'failed', 'cancelled'],
  paused: ['queued', 'executing', 'cancelled'],
  failed: ['queued'],
};

export function canStep(from, to) {
  return (NEXT[from] || []).includes(to);
}

export function rankOf(priority) {
  return PRIORITIES.indexOf(priority);
}

/** core/src/assign/ageing.rs AGE_STEP: a waiting task gains one
 * priority level per five minutes. */
export const AGE_STEP_MS = 300_000;
export const OVERDUE_STEPS = 4;

/** ageing.rs `waiting_since`: the later of created_at and not_before. */
export function waitingSince(t) {
  const c = t.created_at, nb = t.not_before;
  if (c != null && nb != null) return Math.max(c, nb);
  return c ?? nb ?? null;
}

/** ageing.rs `steps_waited`; times are epoch milliseconds. */
export function stepsWaited(t, now, step = AGE_STEP_MS) {
  const since = waitingSince(t);
  if (since == null || step <= 0) return 0;
  return Math.floor(Math.max(0, now - since) / step);
}

/** ageing.rs `effective_rank`: the rank falls one per step, to critical. */
export function effectiveRank(t, now, step = AGE_STEP_MS) {
  return Math.max(0, rankOf(t.priority) - stepsWaited(t, now, step));
}

export function overdue(t, now, step = AGE_STEP_MS) {
  return stepsWaited(t, now, step) >= OVERDUE_STEPS;
}

/** ageing.rs `order`: the claim order, by (effective rank, waiting
 * since, id). */
export function claimOrder(tasks, now, step = AGE_STEP_MS) {
  const key = (t) => [effectiveRank(t, now, step), waitingSince(t) ?? Number.MAX_SAFE_INTEGER, t.task_id];
  return [...tasks].sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < 3; i++) {
      if (ka[i] < kb[i]) return -1;
      if (ka[i] > kb[i]) return 1;
    }
    return 0;
  });
}

/** core/src/model/agent.rs `AgentDoc::with_presence`: the agent as people
 * see it, its registration (`agents/{id}`) brought up to date by its latest
 * beat (`presence/{id}`) when the beat is of the same incarnation. A beat of
 * an earlier run, or none (an older agent beats in its registration alone),
 * changes nothing. Times are epoch milliseconds (or null); returns a new
 * object. */
export function withPresence(agent, beat) {
  if (!beat || (beat.incarnation ?? '') !== (agent.incarnation ?? '')) return agent;
  const seen = {
    ...agent,
    // A field the beat lacks reads as serde's default, as in Rust.
    heartbeat_ms: beat.heartbeat_ms ?? 0,
    current_tasks: beat.current_tasks ?? [],
    cpu_usage: beat.cpu_usage ?? 0,
    memory_usage: beat.memory_usage ?? 0,
    rss_mb: beat.rss_mb ?? 0,
    completed_count: beat.completed_count ?? 0,
    failed_count: beat.failed_count ?? 0,
  };
  if (beat.beat_at != null && (agent.last_heartbeat == null || beat.beat_at > agent.last_heartbeat)) {
    seen.last_heartbeat = beat.beat_at;
  }
  if (beat.busy && agent.status === 'online') seen.status = 'busy';
  return seen;
}

/** Whether an agent's heartbeat is stale: two of its declared heartbeats
 * missed, as firestore.rules `isMarkOffline` and peers judge it. */
export function agentOffline(agent, now) {
  if (agent.status === 'offline') return true;
  const beat = agent.last_heartbeat;
  if (beat == null) return true;
  return now - beat > 2 * (agent.heartbeat_ms || 1000);
}
