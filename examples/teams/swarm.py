#!/usr/bin/env python3
"""A swarm member: each part works on its own slice, the parent merges.

    vayu-agent --handler "python3 $PWD/examples/teams/swarm.py"
    vayu task create "count the words" --team 4 --merge json \
        --input '["a b", "c d e", "f", "g h", "i", "j k l m"]'

A swarm whose input is a JSON array gives each part a contiguous slice
(`VAYU_PART` of `VAYU_PARTS` says which). With `--merge json` the parent's
result is the parts' JSON objects merged key by key.
"""
import json
import os
import sys

task = json.load(sys.stdin)
part = os.environ.get("VAYU_PART")
if part is None:  # not a part: a plain task
    print("vayu:result not a team part")
    sys.exit(0)
texts = json.loads(task["input"])
words = sum(len(t.split()) for t in texts)
print(f"vayu:progress 100 counted {len(texts)} texts", flush=True)
print("vayu:result " + json.dumps({f"part{part}": words}), flush=True)
