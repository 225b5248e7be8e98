#!/usr/bin/env python3
"""A peer: shares findings in the team's context, then meets the others.

    vayu-agent --handler "python3 $PWD/examples/teams/peer.py"
    vayu task create "pick a database" --team 3 --pattern peer

Every peer gets the whole input. `vayu:context KEY VALUE` sets a key of
the team's shared context; `vayu:barrier NAME SECS` is a decision point:
the file $VAYU_TASK_DIR/barrier-NAME appears with "passed" once every
member has arrived (or "timeout"), and $VAYU_CONTEXT then holds every
member's keys. While it waits, it logs its teammates' progress from
$VAYU_TEAM_PROGRESS, which the agent keeps up to date.
"""
import json
import os
import sys
import time

task = json.load(sys.stdin)
me = os.environ["VAYU_PART"]
print(f"vayu:context vote{me} option-{int(me) % 2}", flush=True)
print("vayu:progress 50 voted", flush=True)
print("vayu:barrier voted 120", flush=True)
done = os.path.join(os.environ["VAYU_TASK_DIR"], "barrier-voted")
seen = None
while not os.path.exists(done):
    try:
        with open(os.environ["VAYU_TEAM_PROGRESS"]) as f:
            running = json.load(f)["running"]
        now = sorted((r["part"], r["progress"]) for r in running)
        if now != seen:
            print("teammates: " + ", ".join(f"p{p} {pct}%" for p, pct in now), flush=True)
            seen = now
    except (OSError, ValueError, KeyError):
        pass
    time.sleep(0.2)
with open(os.environ["VAYU_CONTEXT"]) as f:
    votes = json.load(f)
winner = max(sorted(set(votes.values())), key=list(votes.values()).count)
print(f"vayu:result part {me} saw {len(votes)} votes; {winner} wins", flush=True)
