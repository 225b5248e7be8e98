// A run of a built-in workflow, planned as core/src/workflow/run.rs
// `prepare` plans it: the inputs resolved (given over defaults), the steps
// in waves, each step's input with `{{inputs.k}}` filled in and its
// `{{steps.ID.result}}` references kept for the agent. Pure, so that
// dashboard/tests/unit.mjs checks it against the vectors tests/dashboard.rs
// checks against the core. The templates themselves are
// dashboard/src/workflows.json (`vayu workflow templates --json`, checked
// equal to the core's by tests/dashboard.rs), and the core's `validate`
// has passed each, so what is left to check here is what a person gives.

const INPUT_VALUES_MAX = 65536; // core/src/workflow/mod.rs
const TASK_INPUT_MAX = 65536; // core/src/model/limits.rs INPUT_MAX
const CAPABILITY = /^[A-Za-z0-9_.:/+-]{1,64}$/;
const INPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9_]{0,63}$/;
const STEP_ID = /^[A-Za-z0-9][A-Za-z0-9_]{0,26}$/;

const bytes = (s) => new TextEncoder().encode(s).length;

/** A refusal worded as the core's WorkflowError words it. */
function refuse(message) {
  return Object.assign(new Error(message), { code: 'invalid' });
}

/** `WorkflowSpec::resolve_inputs`: `given` over the declared defaults. */
export function resolveInputs(spec, given) {
  const declared = spec.inputs.map((i) => i.name);
  const unknown = Object.keys(given).sort().find((k) => !declared.includes(k));
  if (unknown) throw refuse(`input '${unknown}' is not declared (declared: ${declared.join(', ')})`);
  const out = {};
  for (const i of spec.inputs) {
    const value = given[i.name] ?? i.default;
    if (value == null) throw refuse(`input '${i.name}' has no value and no default: give it with --input ${i.name}=VALUE`);
    if (value.includes('{{')) throw refuse(`input '${i.name}' contains '{{': a step would read it as a reference (there is no escape for it)`);
    out[i.name] = value;
  }
  const len = Object.values(out).reduce((n, v) => n + bytes(v), 0);
  if (len > INPUT_VALUES_MAX) throw refuse(`the inputs' values are ${len} bytes together: at most ${INPUT_VALUES_MAX}`);
  return out;
}

/** input.rs `render_inputs`: each `{{inputs.k}}` filled in, each
 * `{{steps.ID.result}}` kept. The templates' references are known good
 * (the core validated them); a malformed one is refused all the same. */
export function renderInputs(template, inputs) {
  let out = '';
  let rest = 0;
  for (;;) {
    const open = template.indexOf('{{', rest);
    if (open < 0) break;
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw refuse(`'{{' at ${open} is never closed: expected '}}' after it`);
    const inner = template.slice(open + 2, close);
    const parts = inner.trim().split('.');
    out += template.slice(rest, open);
    if (parts.length === 2 && parts[0] === 'inputs' && INPUT_NAME.test(parts[1])) {
      if (!(parts[1] in inputs)) throw refuse(`input '${parts[1]}' has no value`);
      out += inputs[parts[1]];
    } else if (parts.length === 3 && parts[0] === 'steps' && STEP_ID.test(parts[1]) && parts[2] === 'result') {
      out += `{{steps.${parts[1]}.result}}`;
    } else {
      throw refuse(`'{{${inner}}}' at ${open} is not a reference: expected {{inputs.NAME}} or {{steps.ID.result}}`);
    }
    rest = close + 2;
  }
  out += template.slice(rest);
  if (bytes(out) > TASK_INPUT_MAX) throw refuse(`the filled-in input is ${bytes(out)} bytes: a task's input is at most ${TASK_INPUT_MAX}`);
  return out;
}

/** validate.rs `waves`: level by level, each level in the file's order. */
export function waves(spec) {
  const done = new Set();
  const out = [];
  for (;;) {
    const wave = spec.steps.filter((s) => !done.has(s.id) && s.after.every((a) => done.has(a))).map((s) => s.id);
    if (!wave.length) break;
    wave.forEach((id) => done.add(id));
    out.push(wave);
  }
  if (done.size !== spec.steps.length) throw refuse(`workflow '${spec.name}': its steps wait for each other in a cycle`);
  return out;
}

/** run.rs `prepare`: the run's document (without its start time) and
 * each step's plan, in plan order. Throws the first refusal. */
export function prepare(spec, runId, given, startedBy) {
  const inputs = resolveInputs(spec, given);
  const taskId = (step) => `${runId}-${step}`;
  const steps = [];
  waves(spec).forEach((wave, w) => {
    for (const id of wave) {
      const step = spec.steps.find((s) => s.id === id);
      if (step.if != null) throw refuse(`step '${id}' has an \`if\` condition: start this workflow from the CLI, which checks it`);
      const at = (f) => {
        try { return f(); } catch (e) { throw refuse(`step '${id}': ${e.message}`); }
      };
      const input = at(() => renderInputs(step.input, inputs));
      const requires = step.requires.map((r) => {
        const filled = at(() => renderInputs(r, inputs));
        if (!CAPABILITY.test(filled)) throw refuse(`step '${id}': capability '${filled}' is not allowed: 1 to 64 letters, digits or '_.:/+-'`);
        return filled;
      });
      steps.push({ step: { ...step, requires }, task_id: taskId(id), wave: w, after: step.after.map(taskId), input });
    }
  });
  const run = {
    run_id: runId, name: spec.name, description: spec.description, inputs,
    steps: steps.map((s) => s.step.id), task_ids: steps.map((s) => s.task_id), started_by: startedBy, state: 'running',
  };
  return { run, steps };
}
