// The creation wizard: type → template → fields → dependencies → review
// policy → confirm. Each step is checked before the next (create.js
// `validate`, the CLI's checks); the rules judge the create itself.
import { h, clear, notice, showError } from '../ui.js';
import { TYPES, PRIORITIES, COMPLEXITIES } from '../model.js';
import { createTask, validate, REVIEW_POLICIES } from '../create.js';
import { session } from '../session.js';

/** Starting points per type; a template only fills fields in. */
const TEMPLATES = {
  user_request: [{ name: 'Blank', title: '' }, { name: 'Summarise a document', title: 'Summarise ', tags: ['summary'] }],
  research: [{ name: 'Blank', title: '' }, { name: 'Compare options', title: 'Compare ', tags: ['research'], estimate: 30 }],
  maintenance: [{ name: 'Blank', title: '' }, { name: 'Rotate logs', title: 'Rotate stale log files', tags: ['ops'], priority: 'low' }],
  scheduled: [{ name: 'Blank', title: '' }, { name: 'Nightly report', title: 'Nightly report', tags: ['nightly'] }],
  learning: [{ name: 'Blank', title: '' }, { name: 'Practice a skill', title: 'Practice ', tags: ['learning'] }],
};

const STEPS = ['Type', 'Template', 'Fields', 'Dependencies', 'Review', 'Confirm'];

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const num = (s) => (s.trim() === '' ? null : Number(s));

export function mount(root) {
  const a = {
    type: 'user_request', template: 'Blank', priority: 'normal', title: '', input: '', tags: [], requires: [],
    maxRetries: 3, timeoutSecs: null, estimate: null, complexity: 'simple', after: [], onDepFailure: 'cancel', review: 'none',
  };
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

  const views = [
    () => [select('type', 'Task type', TYPES), select('priority', 'Priority', PRIORITIES)],
    () => [h('fieldset', {}, h('legend', {}, 'Start from'), TEMPLATES[a.type].map((t, i) => h('label', { class: 'radio' },
      h('input', { type: 'radio', name: 'template', value: t.name, checked: t.name === a.template, onchange: () => applyTemplate(t), id: `tpl-${i}` }), t.name))),
    h('p', { class: 'hint' }, 'Workflows (several steps) start from the CLI: vayu task create --workflow.')],
    () => [input('title', 'Title', { required: true, maxlength: 500 }), input('input', 'Input for the handler', { multiline: true }),
      input('tags', 'Tags (comma separated)', {}, list), input('requires', 'Required capabilities (comma separated)', {}, list),
      input('maxRetries', 'Max retries', { type: 'number', min: 0, max: 20 }, Number),
      input('timeoutSecs', 'Timeout, seconds (optional)', { type: 'number', min: 1 }, num),
      input('estimate', 'Estimate, minutes (optional)', { type: 'number', min: 0 }, num),
      select('complexity', 'Complexity', COMPLEXITIES)],
    () => [input('after', 'Waits for task ids (comma separated, optional)', {}, list),
      select('onDepFailure', 'If one of them fails', ['cancel', 'run'])],
    () => [select('review', 'Review policy', REVIEW_POLICIES)],
    () => [h('dl', { class: 'fields', id: 'wizard-summary' }, Object.entries({
      Type: a.type, Priority: a.priority, Title: a.title, Tags: a.tags.join(', '), Requires: a.requires.join(', '),
      'Max retries': a.maxRetries, 'Waits for': a.after.join(', '), Review: a.review,
    }).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === '' ? '—' : String(v))]))],
  ];

  function applyTemplate(t) {
    a.template = t.name;
    Object.assign(a, { title: t.title, tags: t.tags || [], estimate: t.estimate ?? null, priority: t.priority || a.priority });
  }

  /** The errors that concern the fields shown up to this step. */
  function stepErrors() {
    const all = validate(a);
    if (step < 2) return [];
    if (step === 2) return all.filter((e) => !/dependenc|task id|review/.test(e));
    return all;
  }

  async function next() {
    const errs = stepErrors();
    clear(errors).append(...errs.map((e) => h('li', {}, e)));
    if (errs.length) return;
    if (step < STEPS.length - 1) { step += 1; render(); return; }
    try {
      const id = await createTask(a, session().uid);
      notice(`Created task ${id}.`);
      location.hash = `#/task/${id}`;
    } catch (e) { showError(e, 'Creating the task'); }
  }

  function render() {
    clear(progress).append(...STEPS.map((s, i) => h('li', { 'aria-current': i === step ? 'step' : null }, `${i + 1}. ${s}`)));
    clear(body).append(h('h3', { tabindex: -1, id: 'wizard-step' }, `${step + 1}. ${STEPS[step]}`), ...views[step](),
      h('div', { class: 'buttons' },
        step > 0 ? h('button', { type: 'button', onclick: () => { step -= 1; clear(errors); render(); } }, 'Back') : null,
        h('button', { type: 'submit', id: 'wizard-next' }, step === STEPS.length - 1 ? 'Create task' : 'Next')));
    body.querySelector('#wizard-step').focus();
  }

  render();
  return () => {};
}
