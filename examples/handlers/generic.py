#!/usr/bin/env python3
"""A vayu handler in Python, for any task type.

    vayu-agent --handler "python3 $PWD/examples/handlers/generic.py"

The agent starts it once per attempt, with the task as JSON on stdin and
VAYU_TASK_ID, VAYU_ATTEMPT, VAYU_AGENT_ID and (when resuming)
VAYU_CHECKPOINT in its environment. Lines that start with `vayu:` are
reports; every other line is logged. Exit 0 completes the task; anything
else fails this attempt.

Ask it to fail, through the task's input (`vayu task create --input ...`):
  fail-on-purpose        fails every attempt;
  fail-after-checkpoint  fails the first attempt after step 2, so the next
                         attempt resumes from that checkpoint.
"""

import json
import os
import sys
import tempfile
import time

STEPS = 4


def report(kind, text):
    # Flushed at once: the agent shows progress as it is printed.
    print(f"vayu:{kind} {text}", flush=True)


def main():
    task = json.load(sys.stdin)
    given = task.get("input", "")
    attempt = int(os.environ.get("VAYU_ATTEMPT", "1"))
    if "fail-on-purpose" in given:
        print("failing on purpose, as the task's input asks", file=sys.stderr)
        return 1
    # After the check above: a failure's last line is its reason.
    print(f"attempt {attempt} started on {os.environ.get('VAYU_AGENT_ID')}", flush=True)

    done = 0
    checkpoint = os.environ.get("VAYU_CHECKPOINT")
    if checkpoint:
        done = json.loads(checkpoint).get("step", 0)
        print(f"resuming after step {done}", flush=True)

    for step in range(done + 1, STEPS + 1):
        report("progress", f"{step * 100 // STEPS} step {step} of {STEPS}")
        time.sleep(0.1)
        report("checkpoint", json.dumps({"step": step}))
        if "fail-after-checkpoint" in given and step == 2 and attempt == 1:
            print("failing attempt 1 after step 2, as the task's input asks", file=sys.stderr)
            return 1

    # An artifact: a file of this task's own, named by its URI.
    out = os.path.join(tempfile.gettempdir(), "vayu-artifacts", os.environ["VAYU_TASK_ID"])
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "task.json")
    with open(path, "w") as f:
        json.dump(task, f, indent=2)
    report("artifact", f"task-copy file://{path}")
    report("result", f"done by {os.environ.get('VAYU_AGENT_ID')} on attempt {attempt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
