#!/usr/bin/env python3
"""A pipeline stage: stage k+1 gets stage k's result as its input.

    vayu-agent --capabilities planner,implementer,reviewer \
        --handler "python3 $PWD/examples/teams/pipeline.py"
    vayu task create "ship a feature" --pattern pipeline \
        --roles planner,implementer,reviewer --input "add dark mode"

Each stage requires its role, so only an agent that declares it runs it
(`VAYU_TEAM_ROLE` names it). A stage that fails is retried; one that fails for
good cancels the rest and the parent, naming the stage.
"""
import json
import os
import sys

task = json.load(sys.stdin)
role = os.environ.get("VAYU_TEAM_ROLE", "worker")
before = task["input"]
print(f"vayu:progress 50 {role} working", flush=True)
print(f"vayu:result {before} -> {role} done", flush=True)
