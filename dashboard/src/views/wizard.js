// The creation wizard: type → template or workflow → fields →
// dependencies → review policy → confirm. Each step is checked before the
// next (create.js `validate` and plan.js `prepare`, the CLI's checks); the
// rules judge the writes themselves. A workflow is the type's built-in
// template (`vayu task create --type T --workflow`): its inputs are the
// fields, its steps' order and review policies are shown, not asked.
import { h, clear, notice, showError } from '../ui.js';
import { TYPES, PRIORITIES, COMPLEXITIES } from '../model.js';
import { createTask, validate, REVIEW_POLICIES } from '../create.js';
import { WORKFLOWS, startWorkflow } from '../workflow.js';
import { prepare } from '../plan.js';
import { session } from '../session.js';

/** Starting points per type; a template only fills fields in. */
const TEMPLATES = {
  user_request: [{ name: 'Blank', title: '' }, { name: 'Summarise a document', title: 'Summarise ', tags: ['summary'] }],
  research: [{ name: 'Blank', title: '' }, { name: 'Compare options', title: 'Compare ', tags: ['research'], estimate: 30 }],
  maintenance: [{ name: 'Blank', title: '' }, { name: 'Rotate logs', title: 'Rotate stale log files', tags: ['ops'], priority: 'low' }],
  scheduled: [{ name: 'Blank', title: '' }, { name: 'Nightly report', title: 'Nightly report', tags: ['nightly'] }],
  learning: [{ name: 'Blank', title: '' }, { name: 'Practice a skill', title: 'Practice ', tags: ['learning'] }],
};

const STEPS = ['Type', 'Template or workflow', 'Fields', 'Dependencies', 'Review', 'Confirm'];

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const num = (s) => (s.trim() === '' ? null : Number(s));

export function mount(root) {
  const a = {
    type: 'user_request', template: 'Blank', priority: 'normal', title: '', input: '', tags: [], requires: [],
    maxRetries: 3, timeoutSecs: null, estimate: null, complexity: 'simple', after: [], onDepFailure: 'cancel', review: 'none',
    workflow: null, given: {},
  };
  /** The chosen workflow's spec, or null for a single task. */
  const flow = () => WORKFLOWS.find((w) => w.name === a.workflow && a.workflow === a.type) || null;
  let step = 0;
  const body = h('div', {});
  const errors = h('ul', { class: 'errors', role: 'alert', id: 'wizard-errors' });
  const progress = h('ol', { class: 'steps' });
  const form = h('form', { id: 'wizard', 'aria-label': 'Create a task', novalidate: true }, progress, body, errors);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); next(); });
  root.append(h('h2', {}, 'New task'), form);

  function input(key, label, attrs = {}, fmt = (v) => v) {
    const id = `w-${key}`;
    const val = Array.isArray(a[key]) ? a[key].join(', ') : a[key] ?? '';
    const el = attrs.multiline ? h('textarea', { id, rows: 4 }, val) : h('input', { id, value: val, ...attrs });
    el.addEventListener('input', () => { a[key] = fmt(el.value); });
    return h('div', { class: 'field' }, h('label', { for: id }, label), el);
  }

  function select(key, label, options) {
    const id = `w-${key}`;
    const el = h('select', { id }, options.map((o) => h('option', { value: o, selected: o === a[key] }, o)));
    el.addEventListener('change', () => { a[key] = el.value; });
    return h('div', { class: 'field' }, h('label', { for: id }, label), el);
  }

  /** A workflow's input: its default shown; left empty, the default
   * stands (the CLI's `--input` not given). */
  function flowInput(i) {
    const id = `w-input-${i.name}`;
    const el = h('input', { id, value: a.given[i.name] ?? i.default ?? '', 'aria-describedby': `${id}-hint` });
    el.addEventListener('input', () => { a.given[i.name] = el.value; });
    return h('div', { class: 'field' }, h('label', { for: id }, `Input ${i.name}`), el,
      h('p', { class: 'hint', id: `${id}-hint` }, `${i.description}${i.default != null ? ` (default: ${i.default})` : ' (required)'}`));
  }

  const taskViews = [
    () => [select('type', 'Task type', TYPES), select('priority', 'Priority', PRIORITIES)],
    () => {
      const wf = WORKFLOWS.find((w) => w.name === a.type);
      return [h('fieldset', {}, h('legend', {}, 'Start from'), TEMPLATES[a.type].map((t, i) => h('label', { class: 'radio' },
        h('input', { type: 'radio', name: 'template', value: t.name, checked: !flow() && t.name === a.template, onchange: () => applyTemplate(t), id: `tpl-${i}` }), t.name))),
      wf ? h('fieldset', {}, h('legend', {}, 'Or run a workflow (several tasks)'), h('label', { class: 'radio' },
        h('input', { type: 'radio', name: 'template', value: `workflow:${wf.name}`, checked: !!flow(), onchange: () => { a.workflow = wf.name; a.given = {}; }, id: 'tpl-workflow' }),
        `Workflow ${wf.name}: ${wf.steps.length} steps`), h('p', { class: 'hint' }, wf.description)) : null];
    },
    () => [input('title', 'Title', { required: true, maxlength: 500 }), input('input', 'Input for the handler', { multiline: true }),
      input('tags', 'Tags (comma separated)', {}, list), input('requires', 'Required capabilities (comma separated)', {}, list),
      input('maxRetries', 'Max retries', { type: 'number', min: 0, max: 20 }, Number),
      input('timeoutSecs', 'Timeout, seconds (optional)', { type: 'number', min: 1 }, num),
      input('estimate', 'Estimate, minutes (optional)', { type: 'number', min: 0 }, num),
      select('complexity', 'Complexity', COMPLEXITIES)],
    () => [input('after', 'Waits for task ids (comma separated, optional)', {}, list),
      select('onDepFailure', 'If one of them fails', ['cancel', 'run'])],
    () => [select('review', 'Review policy', REVIEW_POLICIES)],
    () => [h('dl', { class: 'fields', id: 'wizard-summary' }, summary({
      Type: a.type, Priority: a.priority, Title: a.title, Tags: a.tags.join(', '), Requires: a.requires.join(', '),
      'Max retries': a.maxRetries, 'Waits for': a.after.join(', '), Review: a.review,
    }))],
  ];

  const flowViews = [
    taskViews[0],
    taskViews[1],
    () => [h('p', { class: 'hint' }, `The workflow's inputs; each step's task reads them.`), ...flow().inputs.map(flowInput)],
    () => [h('p', { class: 'hint' }, 'Each step is a task, queued once the steps it runs after complete; a failed step cancels the ones after it.'),
      h('ol', { id: 'workflow-steps' }, flow().steps.map((st) => h('li', {}, h('strong', {}, st.id), ` — ${st.title}`,
        st.after.length ? ` (after ${st.after.join(', ')})` : ' (first)')))],
    () => [h('p', { class: 'hint' }, "Each step's review policy, as the workflow sets it."),
      h('ul', {}, flow().steps.map((st) => h('li', {}, `${st.id}: ${st.review}`)))],
    () => [h('dl', { class: 'fields', id: 'wizard-summary' }, summary({
      Workflow: `${flow().name} (${flow().steps.length} steps)`,
      ...Object.fromEntries(Object.entries(planned().run.inputs).map(([k, v]) => [`Input ${k}`, v])),
    }))],
  ];
  const views = () => (flow() ? flowViews : taskViews);

  /** The run as it would start, or throws the CLI's refusal. */
  const planned = () => prepare(flow(), 'check', given(), session().uid);
  const given = () => Object.fromEntries(Object.entries(a.given).filter(([, v]) => v.trim() !== ''));

  function summary(o) {
    return Object.entries(o).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === '' ? '—' : String(v))]);
  }

  function applyTemplate(t) {
    a.template = t.name;
    a.workflow = null;
    Object.assign(a, { title: t.title, tags: t.tags || [], estimate: t.estimate ?? null, priority: t.priority || a.priority });
  }

  /** The errors that concern the fields shown up to this step. */
  function stepErrors() {
    if (step < 2) return [];
    if (flow()) {
      try { planned(); return []; } catch (e) { return [e.message]; }
    }
    const all = validate(a);
    if (step === 2) return all.filter((e) => !/dependenc|task id|review/.test(e));
    return all;
  }

  async function next() {
    const errs = stepErrors();
    clear(errors).append(...errs.map((e) => h('li', {}, e)));
    if (errs.length) return;
    if (step < STEPS.length - 1) { step += 1; render(); return; }
    // One create per click: a second click while the first writes would
    // make a second task or run.
    const button = body.querySelector('#wizard-next');
    if (button.disabled) return;
    button.disabled = true;
    try {
      await (flow() ? start() : create());
    } finally { button.disabled = false; }
  }

  async function create() {
    try {
      const id = await createTask(a, session().uid);
      notice(`Created task ${id}.`);
      location.hash = `#/task/${id}`;
    } catch (e) { showError(e, 'Creating the task'); }
  }

  async function start() {
    try {
      const { run, tasks } = await startWorkflow(flow(), given(), session().uid);
      notice(`Started workflow ${run.name}: ${tasks.length} steps.`);
      clear(body).append(h('section', { id: 'workflow-started', 'data-run': run.run_id, 'aria-label': 'Workflow started' },
        h('h3', { tabindex: -1 }, `Workflow ${run.name} started (run ${run.run_id})`),
        h('ol', {}, tasks.map((t) => h('li', { 'data-task': t.task_id }, h('a', { href: `#/task/${t.task_id}` }, t.title), ` (${t.status})`)))));
      body.querySelector('h3').focus();
    } catch (e) { showError(e, 'Starting the workflow'); }
  }

  function render() {
    clear(progress).append(...STEPS.map((s, i) => h('li', { 'aria-current': i === step ? 'step' : null }, `${i + 1}. ${s}`)));
    clear(body).append(h('h3', { tabindex: -1, id: 'wizard-step' }, `${step + 1}. ${STEPS[step]}`), ...views()[step](),
      h('div', { class: 'buttons' },
        step > 0 ? h('button', { type: 'button', onclick: () => { step -= 1; clear(errors); render(); } }, 'Back') : null,
        h('button', { type: 'submit', id: 'wizard-next' }, step < STEPS.length - 1 ? 'Next' : flow() ? 'Start workflow' : 'Create task')));
    body.querySelector('#wizard-step').focus();
  }

  render();
  return () => {};
}
