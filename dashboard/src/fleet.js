// The agents as people see them (issue 14): each registration
// (`agents/{id}`) merged with its latest beat (`presence/{id}`) by
// model.js `withPresence`, as `vayu agent list` merges them
// (src/store/agents.rs `list_agents`). Times come out as epoch
// milliseconds. A presence the page cannot read (rules that predate it)
// counts as none: every agent then shows its registration, as an agent of
// an older version, which beats in its registration alone, always does.
import { collection, query, limit, getDocs } from 'firebase/firestore';
import { getDb, watch, ms, reads } from './firebase.js';
import { withPresence } from './model.js';

export const AGENTS_MAX = 500;

const registrations = () => query(collection(getDb(), 'agents'), limit(AGENTS_MAX));
const beats = () => query(collection(getDb(), 'presence'), limit(AGENTS_MAX));

function merge(agents, presence) {
  return agents
    .map((a) => withPresence({ ...a, last_heartbeat: ms(a.last_heartbeat) }, presence.get(a.agent_id)))
    .sort((a, b) => a.agent_id.localeCompare(b.agent_id));
}

function byAgent(docs) {
  return new Map(docs.map((d) => d.data()).map((p) => [p.agent_id, { ...p, beat_at: ms(p.beat_at) }]));
}

/** Two live listeners, `agents` and `presence`; `onData` gets the merged
 * list at every change of either. Returns the unsubscribe. */
export function watchAgents(onData) {
  let agents = [];
  let presence = new Map();
  const emit = () => onData(merge(agents, presence));
  const stopAgents = watch(registrations(), (snap) => { agents = snap.docs.map((d) => d.data()); emit(); });
  const stopBeats = watch(beats(), (snap) => { presence = byAgent(snap.docs); emit(); },
    () => { presence = new Map(); emit(); });
  return () => { stopAgents(); stopBeats(); };
}

/** The merged list, read once (two queries). */
export async function readAgents() {
  const [agents, presence] = await Promise.all([
    getDocs(registrations()),
    getDocs(beats()).catch((e) => { console.error(e); return { docs: [] }; }),
  ]);
  reads.documents += agents.docs.length + presence.docs.length;
  return merge(agents.docs.map((d) => d.data()), byAgent(presence.docs));
}
