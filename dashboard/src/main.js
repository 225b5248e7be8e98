// The dashboard's entry: configuration, sign-in, and a hash router with
// one view per file under views/. Each view is `mount(root, params)`
// returning a function that stops its listeners.
import { onAuthStateChanged, signOut } from 'firebase/auth';
import { init, getAuthInstance, getConfig, mockIdentity } from './firebase.js';
import { setSession, session } from './session.js';
import { h, clear, notice } from './ui.js';
import { mountSignIn } from './signin.js';
import * as board from './views/board.js';
import * as agents from './views/agents.js';
import * as detail from './views/detail.js';
import * as analytics from './views/analytics.js';
import * as wizard from './views/wizard.js';
import * as queue from './views/queue.js';
import * as mine from './views/mine.js';

const ROUTES = {
  board: { view: board, label: 'Board' },
  queue: { view: queue, label: 'Queue' },
  agents: { view: agents, label: 'Agents' },
  analytics: { view: analytics, label: 'Analytics' },
  mine: { view: mine, label: 'My tasks' },
  new: { view: wizard, label: 'New task' },
  task: { view: detail, label: null },
};

let stop = () => {};

function route() {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, '') || 'board').split('/');
  const r = ROUTES[name] || ROUTES.board;
  stop();
  const main = clear(document.getElementById('main'));
  delete main.dataset.ready;
  for (const a of document.querySelectorAll('#nav a')) {
    a.toggleAttribute('aria-current', a.dataset.route === name);
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
  }
  stop = r.view.mount(main, rest.map(decodeURIComponent)) || (() => {});
  main.focus({ preventScroll: true });
}

function shell() {
  const s = session();
  const nav = h('nav', { id: 'nav', 'aria-label': 'Views' },
    Object.entries(ROUTES).filter(([, r]) => r.label)
      .map(([k, r]) => h('a', { href: `#/${k}`, 'data-route': k }, r.label)));
  const who = h('div', { class: 'who' },
    h('span', { id: 'whoami' }, `${s.email || s.uid} · ${s.role || 'no role'}`),
    h('button', { type: 'button', id: 'sign-out', onclick: doSignOut }, 'Sign out'));
  clear(document.getElementById('top')).append(h('h1', {}, 'vayu'), nav, who);
  if (!s.role) notice('Your account has no role: the rules let it read nothing. Ask an admin for `vayu user add`.', 'error');
}

async function doSignOut() {
  sessionStorage.removeItem('vayu-mock-user');
  if (getConfig().emulators?.auth || !mockIdentity()) await signOut(getAuthInstance());
  location.reload();
}

function start(s) {
  setSession(s);
  shell();
  window.addEventListener('hashchange', route);
  route();
}

async function boot() {
  let config;
  try {
    config = await init();
  } catch (e) {
    document.getElementById('main').append(h('p', { role: 'alert' }, `The dashboard has no configuration: ${e.message}`));
    return;
  }
  const mock = !config.emulators?.auth && config.emulators?.firestore ? mockIdentity() : null;
  if (mock) return start({ uid: mock.uid, role: mock.role, email: `${mock.uid} (emulator)` });
  let started = false;
  onAuthStateChanged(getAuthInstance(), async (user) => {
    if (!user) {
      if (started) location.reload();
      else mountSignIn(clear(document.getElementById('main')), config);
      return;
    }
    if (started) return;
    started = true;
    const token = await user.getIdTokenResult();
    start({ uid: user.uid, role: token.claims.role || '', email: user.email || '' });
  });
}

boot();
