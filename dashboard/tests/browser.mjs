// The browser tests, in order; `ctx` carries what earlier ones made.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import * as H from './harness.mjs';

const SHOTS = join(H.ROOT, 'docs', 'screenshots');
mkdirSync(SHOTS, { recursive: true });
const WIDE = { width: 1280, height: 800 };
const HANDLER = 'input=$(cat); case "$input" in *fail*) echo "failing on purpose" >&2; exit 1;; *slow*) sleep 60;; esac; for p in 25 50 75; do echo "vayu:progress $p step $p of 100"; echo "working on $p"; [ $p = 50 ] && echo "vayu:checkpoint {\\"page\\": 50}"; sleep 1; done; echo "vayu:artifact report inline:all-good"; echo "vayu:result done"';

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

async function as(ctx, who, viewport = WIDE) {
  const c = await ctx.browser.newContext({ viewport });
  const page = await H.signIn(c, ctx.url, ctx.users[who]);
  ctx.lastPage = page;
  return page;
}

const card = (page, column, id) => page.locator(`[data-column="${column}"] [data-task="${id}"]`);

export const tests = [
  ['signs in through the Auth emulator, each person with their role', async (ctx) => {
    ctx.users = {
      ada: await H.addUser(ctx.emu, 'ada', 'admin'),
      olga: await H.addUser(ctx.emu, 'olga', 'operator'),
      vic: await H.addUser(ctx.emu, 'vic', 'viewer'),
    };
    const page = await as(ctx, 'olga');
    assert((await page.locator('#whoami').textContent()).includes('olga@example.com · operator'), 'who is signed in');
    await page.locator('[data-column="queued"] .count').filter({ hasText: /^\d+$/ }).waitFor();
    const columns = await page.$$eval('[data-column]', (cs) => cs.map((c) => c.dataset.column));
    assert(columns.length === 12 && columns[0] === 'created', `one column per lifecycle state: ${columns}`);
    ctx.olga = page;
  }],

  ['creates a task with the wizard, checked as the CLI checks it', async (ctx) => {
    const page = ctx.olga;
    await page.goto(`${ctx.url}#/new`);
    await page.getByLabel('Task type').selectOption('research');
    await page.getByLabel('Priority').selectOption('high');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Compare options').check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Title').fill('');
    await page.getByLabel('Tags (comma separated)').fill('bad,tag!');
    await page.getByRole('button', { name: 'Next' }).click();
    const errors = await page.locator('#wizard-errors').textContent();
    assert(errors.includes('the title is empty') && errors.includes('at most 20 tags'), `the wizard refuses bad fields: ${errors}`);
    await page.getByLabel('Title').fill('Compare three queue designs');
    await page.getByLabel('Tags (comma separated)').fill('research, queues');
    await page.getByLabel('Tags (comma separated)').press('Enter'); // the keyboard moves on too
    await page.locator('#wizard-step').filter({ hasText: '4. Dependencies' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Review policy').selectOption('user');
    await page.getByRole('button', { name: 'Next' }).click();
    await shot(page, 'wizard');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/#\/task\//);
    ctx.created = decodeURIComponent(page.url().split('#/task/')[1]);
    await page.locator('[data-field="status"]').filter({ hasText: 'queued' }).waitFor();
    const shown = await H.vayu(ctx.emu, ['task', 'status', '--id', ctx.created, '--json']);
    const t = JSON.parse(shown);
    assert(t.requester.id === 'olga' && t.priority === 'high' && t.type === 'research', `stored as the CLI would: ${shown.slice(0, 300)}`);
    assert(JSON.stringify(t.metadata.tags) === '["research","queues"]' && t.review.policy === 'user', 'tags and review policy');
  }],

  ['starts a workflow with the wizard, checked as the CLI checks it', async (ctx) => {
    const page = ctx.olga;
    await page.goto(`${ctx.url}#/new`);
    await page.getByLabel('Task type').selectOption('maintenance');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Workflow maintenance: 5 steps').check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Input target').fill('the {{staging}} fleet');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#wizard-errors').filter({ hasText: "input 'target' contains '{{'" }).waitFor();
    await page.getByLabel('Input target').fill('the staging fleet');
    await page.getByRole('button', { name: 'Next' }).click();
    assert(await page.locator('#workflow-steps > li').count() === 5, 'the steps and their order are shown');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#wizard-summary').filter({ hasText: 'the staging fleet' }).waitFor();
    await page.getByRole('button', { name: 'Start workflow' }).click();
    const started = page.locator('#workflow-started');
    await started.waitFor();
    ctx.run = await started.getAttribute('data-run');
    ctx.steps = await started.locator('li[data-task]').evaluateAll((ls) => ls.map((l) => l.dataset.task));
    assert(ctx.steps.length === 5 && ctx.steps[0] === `${ctx.run}-health_check`, `five step tasks: ${ctx.steps}`);
    const { run } = JSON.parse(await H.vayu(ctx.emu, ['workflow', 'status', ctx.run, '--json']));
    assert(run.inputs.target === 'the staging fleet' && run.started_by === 'olga' && run.task_ids.join() === ctx.steps.join(), `the CLI sees the run: ${JSON.stringify(run).slice(0, 400)}`);
    const last = JSON.parse(await H.vayu(ctx.emu, ['task', 'status', '--id', ctx.steps[4], '--json']));
    assert(last.status === 'blocked' && last.dependencies.blocked_by[0] === ctx.steps[3] && last.requester.id === 'olga', `the last step waits: ${JSON.stringify(last.dependencies)}`);
    await page.goto(`${ctx.url}#/board`);
    await card(page, 'queued', ctx.steps[0]).waitFor();
    await card(page, 'blocked', ctx.steps[4]).waitFor();
  }],

  ['watches its card move through the columns while a real vayu-agent runs it', async (ctx) => {
    const page = ctx.olga;
    await page.goto(`${ctx.url}#/board`);
    await card(page, 'queued', ctx.created).waitFor();
    ctx.agent = H.agent(ctx.emu, 'dash-agent-1', HANDLER, ['--capabilities', 'general']);
    await card(page, 'executing', ctx.created).waitFor({ timeout: 30000 });
    await shot(page, 'board-live');
    await card(page, 'reviewing', ctx.created).waitFor({ timeout: 30000 });
    await H.vayu(ctx.emu, ['task', 'review', ctx.created, '--approve', '--score', 'correctness=4,quality=5', '--comment', 'clear comparison']);
    await card(page, 'completed', ctx.created).waitFor({ timeout: 30000 });
    assert(await card(page, 'queued', ctx.created).count() === 0, 'the card left the queued column');
    await page.goto(`${ctx.url}#/task/${ctx.created}`);
    await page.locator('.timeline').filter({ hasText: 'completed' }).waitFor();
    await page.locator('pre.logs').filter({ hasText: 'working on 75' }).waitFor();
    assert((await page.locator('body').textContent()).includes('all-good'), 'the artifact is shown');
    const progress = await page.locator('label[for="task-progress"]').textContent();
    assert(progress.includes('Progress 100%') && progress.includes('step 75 of 100'), `progress and current step: ${progress}`);
    assert((await page.locator('.checkpoints').textContent()).includes('"page": 50'), 'the checkpoint is shown');
    const review = await page.locator('table.reviews tbody tr').first().textContent();
    assert(review.includes('approve') && review.includes('correctness 4') && review.includes('clear comparison'), `the review: ${review}`);
    await shot(page, 'task-detail', true);
  }],

  ['cancels another task from the board, and filters the board', async (ctx) => {
    // Needs a capability no agent has, so it waits in the queue.
    const id = (await H.vayu(ctx.emu, ['task', 'create', 'Render the GPU report', '--requires', 'gpu'])).trim();
    const page = await as(ctx, 'ada');
    await card(page, 'queued', id).waitFor();
    await card(page, 'queued', id).getByRole('button', { name: 'Cancel' }).click();
    await card(page, 'cancelled', id).waitFor();
    await page.getByRole('status').filter({ hasText: 'now cancelled' }).waitFor();
    // Filters: server-side equality filters, counted with the same filter.
    await page.getByLabel('Tag').fill('queues');
    await page.getByLabel('Tag').press('Enter');
    await page.locator('[data-column="cancelled"] .empty').waitFor();
    await card(page, 'completed', ctx.created).waitFor();
    await page.locator('[data-count="completed"]').filter({ hasText: /^1$/ }).waitFor();
    await page.getByLabel('Tag').fill('');
    await page.getByLabel('Type').selectOption('research');
    await card(page, 'completed', ctx.created).waitFor();
    assert(await page.locator('[data-column="cancelled"] [data-task]').count() === 0, 'a user request is filtered out');
    // Each filter narrows (or keeps) the research task the agent ran for olga.
    const keeps = async (key, value, kept) => {
      const el = page.locator(`#filter-${key}`);
      if (key === 'priority') await el.selectOption(value);
      else { await el.fill(value); await el.dispatchEvent('change'); }
      if (kept) await card(page, 'completed', ctx.created).waitFor();
      else await page.locator('[data-column="completed"] .empty').waitFor();
    };
    await keeps('priority', 'low', false);
    await keeps('priority', 'high', true);
    await keeps('agent', 'dash-agent-2', false);
    await keeps('agent', 'dash-agent-1', true);
    await keeps('requester', 'ada', false);
    await keeps('requester', 'olga', true);
    const t = JSON.parse(await H.vayu(ctx.emu, ['task', 'status', '--id', id, '--json']));
    assert(t.status === 'cancelled' && t.history.at(-1).note === 'cancel by ada', `the CLI sees it cancelled: ${JSON.stringify(t.history.at(-1))}`);
  }],

  ['pauses, resumes, re-prioritises, cancels a running task and requeues a failed one', async (ctx) => {
    const page = await as(ctx, 'ada');
    const make = async (...a) => (await H.vayu(ctx.emu, ['task', 'create', ...a])).trim();
    const [held, slow, failing] = ctx.controlled = [
      await make('Held for the GPU', '--requires', 'gpu'),
      await make('A slow one', '--input', 'slow'),
      await make('Doomed', '--input', 'fail', '--max-retries', '0'),
    ];
    await card(page, 'queued', held).locator('select').selectOption('critical');
    await page.getByRole('status').filter({ hasText: 'priority now critical' }).waitFor();
    await card(page, 'queued', held).getByRole('button', { name: 'Pause' }).click();
    await card(page, 'paused', held).getByRole('button', { name: 'Resume' }).click();
    await card(page, 'queued', held).waitFor();
    const t = JSON.parse(await H.vayu(ctx.emu, ['task', 'status', '--id', held, '--json']));
    assert(t.priority === 'critical' && t.priority_rank === 0, 'the priority is stored with its rank');
    assert(t.history.map((e) => e.status).join(',') === 'paused,queued', `history ${JSON.stringify(t.history)}`);
    await card(page, 'executing', slow).getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancel “A slow one”: cancel requested' }).waitFor();
    await card(page, 'cancelled', slow).waitFor({ timeout: 20000 });
    await card(page, 'failed', failing).getByRole('button', { name: 'Requeue' }).click();
    await page.getByRole('status').filter({ hasText: 'Requeue “Doomed”: now queued' }).waitFor();
    const f = JSON.parse(await H.vayu(ctx.emu, ['task', 'status', '--id', failing, '--json']));
    assert(f.history.some((e) => e.note === 'retried by hand by ada'), `the requeue is in the history: ${JSON.stringify(f.history)}`);
  }],

  ['waits in the blocked column for a dependency chosen in the wizard, and is cancelled with it', async (ctx) => {
    const dep = (await H.vayu(ctx.emu, ['task', 'create', 'Needs the GPU first', '--requires', 'gpu'])).trim();
    const page = ctx.olga;
    await page.goto(`${ctx.url}#/new`);
    for (let i = 0; i < 3; i += 1) {
      if (i === 2) await page.getByLabel('Title').fill('After the GPU task');
      await page.getByRole('button', { name: 'Next' }).click();
    }
    await page.getByLabel('Waits for task ids (comma separated, optional)').fill(`${dep}, not a task!`);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#wizard-errors').filter({ hasText: "'not a task!' is not a task id" }).waitFor();
    await page.getByLabel('Waits for task ids (comma separated, optional)').fill(dep);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/#\/task\//);
    const id = decodeURIComponent(page.url().split('#/task/')[1]);
    await page.locator('[data-field="status"]').filter({ hasText: 'blocked' }).waitFor();
    await page.locator('svg.graph').waitFor();
    // The page registered it as the dependency's waiter, so a cancel
    // finds it there and settles it at once (its default --on-dep-failure).
    const waiters = await H.getDoc(ctx.emu, `waiters/${dep}`);
    const dependents = waiters.fields?.dependents?.arrayValue?.values?.map((v) => v.stringValue) || [];
    assert(dependents.includes(id), `waiters/${dep} names it: ${JSON.stringify(waiters)}`);
    const admin = await as(ctx, 'ada');
    await card(admin, 'queued', dep).getByRole('button', { name: 'Cancel' }).click();
    await card(admin, 'cancelled', id).waitFor({ timeout: 10000 });
    const t = JSON.parse(await H.vayu(ctx.emu, ['task', 'status', '--id', id, '--json']));
    const last = t.history.at(-1);
    assert(t.dependencies.failed === dep && last.note === `dependency ${dep} was cancelled` && last.agent === 'ada', `settled by the page as the CLI settles: ${JSON.stringify(last)}`);
    // A team (vayu task create --team): the parent shows its pattern and
    // parts, and a part links back to its parent.
    const parent = JSON.parse(await H.vayu(ctx.emu, ['task', 'create', 'Write the GPU guide', '--team', '2', '--pattern', 'pipeline',
      '--roles', 'gpu-planner,gpu-writer', '--json'])).task_id;
    await page.goto(`${ctx.url}#/task/${parent}`);
    const team = page.locator('[data-field="team"]').filter({ hasText: 'pipeline team' });
    await team.waitFor();
    const parts = await team.locator('a').evaluateAll((as) => as.map((a) => a.textContent));
    assert(parts.length === 2 && (await team.textContent()).includes('role gpu-writer'), `the parts and roles: ${await team.textContent()}`);
    await team.locator('a').first().click();
    await page.locator('[data-field="part-of"]').filter({ hasText: 'part 1 of 2 (pipeline, role gpu-planner)' }).waitFor();
    await page.locator('[data-field="part-of"] a').click();
    await page.locator('[data-field="team"]').waitFor();
  }],

  ["shows a viewer's denied action as the rules' refusal", async (ctx) => {
    const id = (await H.vayu(ctx.emu, ['task', 'create', 'Train the GPU model', '--requires', 'gpu'])).trim();
    const page = await as(ctx, 'vic');
    await card(page, 'queued', id).waitFor();
    assert(await card(page, 'queued', id).getByRole('button').count() === 0, 'a viewer sees no actions');
    await page.getByLabel('Show actions my role may not take').check();
    await card(page, 'queued', id).getByRole('button', { name: 'Cancel' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'refused by the security rules' });
    await alert.waitFor();
    await shot(page, 'denied');
    const t = JSON.parse(await H.vayu(ctx.emu, ['task', 'status', '--id', id, '--json']));
    assert(t.status === 'queued', 'the task is untouched');
    // An operator may not control another person's task either.
    const olga = ctx.olga;
    await olga.goto(`${ctx.url}#/board`);
    await olga.getByLabel('Show actions my role may not take').check();
    await card(olga, 'queued', id).getByRole('button', { name: 'Pause' }).click();
    await olga.getByRole('alert').filter({ hasText: 'refused by the security rules' }).waitFor();
  }],

  ['runs the workflow started in the wizard, turns a killed agent offline in the matrix, and drains another', async (ctx) => {
    const page = await as(ctx, 'ada');
    // The agent ran every step of the run started earlier, each once the
    // one before completed.
    await card(page, 'completed', ctx.steps[4]).waitFor({ timeout: 40000 });
    const { outcome } = JSON.parse(await H.vayu(ctx.emu, ['workflow', 'status', ctx.run, '--json']));
    assert(outcome === 'completed', `the run completed: ${outcome}`);
    await page.goto(`${ctx.url}#/agents`);
    const row = page.locator('[data-agent="dash-agent-1"]');
    await row.waitFor();
    assert(['online', 'busy'].includes(await row.getAttribute('data-status')), 'the agent is live first');
    await shot(page, 'agents');
    H.stop(ctx.agent, 'SIGKILL');
    await page.locator('[data-agent="dash-agent-1"][data-status="offline"]').waitFor({ timeout: 15000 });
    // An admin drains another agent from the matrix: it finishes and exits.
    const second = H.agent(ctx.emu, 'dash-agent-2', HANDLER);
    await page.locator('[data-agent="dash-agent-2"][data-status="online"]').waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: 'Drain dash-agent-2' }).click();
    await page.locator('[data-agent="dash-agent-2"]').filter({ hasText: 'asked by ada' }).waitFor();
    await page.locator('[data-agent="dash-agent-2"][data-status="offline"]').waitFor({ timeout: 20000 });
    const end = Date.now() + 10000;
    while (second.exitCode === null && Date.now() < end) await H.sleep(100);
    assert(second.exitCode === 0, `the drained agent exited by itself (exit ${second.exitCode})`);
  }],

  ['renders the analytics charts with data', async (ctx) => {
    const page = await as(ctx, 'ada');
    await page.goto(`${ctx.url}#/analytics`);
    await page.locator('main[data-ready="true"]').waitFor({ timeout: 30000 });
    const totals = await page.$$eval('canvas', (cs) => Object.fromEntries(cs.map((c) => [c.id, Number(c.dataset.total)])));
    assert(Object.keys(totals).length === 7, `seven charts: ${JSON.stringify(totals)}`);
    assert(totals['chart-states'] >= 3 && totals['chart-throughput'] >= 1 && totals['chart-assign'] >= 1, `charts have data: ${JSON.stringify(totals)}`);
    await shot(page, 'analytics', true);
  }],

  ['shows the queue in claim order, my tasks, and fits a 390 px screen', async (ctx) => {
    const page = await as(ctx, 'olga', { width: 390, height: 844 });
    await page.goto(`${ctx.url}#/mine`);
    await page.locator(`tr[data-task="${ctx.created}"]`).filter({ hasText: 'completed' }).waitFor();
    await page.getByRole('button', { name: 'Rate Compare three queue designs 4 of 5' }).click();
    await page.locator(`tr[data-task="${ctx.created}"]`).filter({ hasText: '★★★★☆' }).waitFor();
    await shot(page, 'my-tasks-390');
    await page.goto(`${ctx.url}#/queue`);
    const first = page.locator('ol.queue > li[data-task]').first();
    await first.waitFor();
    assert(await first.getAttribute('data-task') === ctx.controlled[0], 'the critical task is claimed first');
    await shot(page, 'queue-390');
    await page.goto(`${ctx.url}#/board`);
    await page.locator('[data-column="completed"] [data-task]').first().waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll('.count')].every((c) => /^\d+$/.test(c.textContent)));
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 390, `no sideways scrolling at 390 px (${width})`);
    await shot(page, 'board-390');
  }],

  ['signs in without an Auth emulator as vayu demo does, with the role chosen', async (ctx) => {
    const url = await H.dashboard(ctx.emu, { withAuth: false });
    // Wide enough for every column in the README's screenshot.
    const page = await (await ctx.browser.newContext({ viewport: { width: 2580, height: 560 } })).newPage();
    ctx.lastPage = page;
    await page.goto(url);
    await page.getByLabel('User id').fill('demo-viewer');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#whoami').filter({ hasText: 'viewer' }).waitFor();
    await card(page, 'completed', ctx.created).waitFor();
    assert(await page.locator('.card button').count() === 0, 'a viewer is offered no actions');
    await page.waitForFunction(() => [...document.querySelectorAll('.count')].every((c) => /^\d+$/.test(c.textContent)));
    await shot(page, 'board');
    await page.goto(`${url}#/agents`);
    await page.locator('[data-agent="dash-agent-1"]').waitFor();
    assert(await page.getByRole('button', { name: /^Drain/ }).count() === 0, 'nor a drain');
  }],
];
