#!/usr/bin/env python3
"""Leader and followers: the leader plans, followers build, the leader
aggregates.

    vayu-agent --capabilities lead --handler "python3 $PWD/examples/teams/leader.py"
    vayu-agent --capabilities dev  --handler "python3 $PWD/examples/teams/leader.py"
    vayu task create "write the docs" --pattern leader --roles lead,dev,dev

Part 1 (the leader's) prints one `vayu:subtask TEXT` per follower; follower
k gets the leader's (k-1)th subtask as its input. Once every part has
completed, an agent of the leader's role runs the parent, whose input is a
JSON array of the parts' results, to aggregate them.
"""
import json
import os
import sys

task = json.load(sys.stdin)
part = os.environ.get("VAYU_PART")
if part is None:  # the parent: aggregate
    parts = json.loads(task["input"])
    done = [p["result"] for p in parts[1:]]
    print("vayu:result " + "; ".join(done), flush=True)
elif part == "1":  # the leader: plan
    for chapter in ["install", "usage"]:
        print(f"vayu:subtask write the {chapter} chapter", flush=True)
    print("vayu:result planned 2 chapters", flush=True)
else:  # a follower: do its subtask
    print(f"vayu:result done: {task['input']}", flush=True)
