#!/usr/bin/env python3
"""A vayu handler for research tasks: the seed's research flow in one run.

    vayu-agent --handler research="python3 $PWD/examples/handlers/research.py"

It walks the research steps (problem definition, literature review,
hypothesis, analysis, report), reporting each as progress with a
checkpoint, writes a Markdown report as an artifact, and sets the result
to a JSON summary, which later tasks' conditions can read
(`--if 'A.result.status == "ok"'`). Put a real model or search call where
`work` is.

Ask it to fail, through the task's input (`vayu task create --input ...`):
  fail-on-purpose        fails every attempt;
  fail-after-checkpoint  fails the first attempt after the literature
                         review, so the next attempt resumes there.
"""

import json
import os
import sys
import tempfile
import time

STEPS = ["problem definition", "literature review", "hypothesis", "analysis", "report"]


def report(kind, text):
    print(f"vayu:{kind} {text}", flush=True)


def work(step, title):
    """Stands in for the real work of one step; returns its notes."""
    time.sleep(0.1)
    return f"{step} for '{title}': done"


def main():
    task = json.load(sys.stdin)
    title, given = task.get("title", ""), task.get("input", "")
    attempt = int(os.environ.get("VAYU_ATTEMPT", "1"))
    if "fail-on-purpose" in given:
        print("failing on purpose, as the task's input asks", file=sys.stderr)
        return 1
    # After the check above: a failure's last line is its reason.
    print(f"attempt {attempt} started on {os.environ.get('VAYU_AGENT_ID')}", flush=True)

    notes = []
    checkpoint = os.environ.get("VAYU_CHECKPOINT")
    if checkpoint:
        notes = json.loads(checkpoint).get("notes", [])
        print(f"resuming after step {len(notes)}", flush=True)

    for i in range(len(notes), len(STEPS)):
        step = STEPS[i]
        report("progress", f"{i * 100 // len(STEPS)} {step}")
        notes.append(work(step, title))
        report("checkpoint", json.dumps({"notes": notes}))
        if "fail-after-checkpoint" in given and i == 1 and attempt == 1:
            print("failing attempt 1 after the literature review, as asked", file=sys.stderr)
            return 1

    out = os.path.join(tempfile.gettempdir(), "vayu-artifacts", os.environ["VAYU_TASK_ID"])
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write(f"# {title}\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    report("artifact", f"report file://{path}")
    report("result", json.dumps({"status": "ok", "steps": len(notes)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
