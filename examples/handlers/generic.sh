#!/bin/sh
# A vayu handler in POSIX shell, for any task type.
#
#   vayu-agent --handler "sh $PWD/examples/handlers/generic.sh"
#
# The agent starts it once per attempt, with the task as JSON on stdin and
# VAYU_TASK_ID, VAYU_ATTEMPT, VAYU_AGENT_ID and (when resuming)
# VAYU_CHECKPOINT in its environment. Lines that start with `vayu:` are
# reports (see `vayu-core`'s protocol module); every other line is logged.
# Exit 0 completes the task; anything else fails this attempt.
#
# Ask it to fail, or to take its time, through the task's input
# (`vayu task create --input …`):
#   slow                   a second a step instead of a tenth;
#   fail-on-purpose        fails every attempt;
#   fail-after-checkpoint  fails the first attempt after step 2, so the
#                          next attempt resumes from that checkpoint.
set -eu

task=$(cat)
# `slow` in the input: a second a step, long enough to watch.
pause=0.1
case "$task" in *slow*) pause=1 ;; esac
case "$task" in
*fail-on-purpose*)
  echo "failing on purpose, as the task's input asks" >&2
  exit 1
  ;;
esac
# After the check above: a failure's last line is its reason.
echo "attempt $VAYU_ATTEMPT started on $VAYU_AGENT_ID"

# A resumed attempt starts after the last step its checkpoint recorded.
done_steps=0
if [ -n "${VAYU_CHECKPOINT:-}" ]; then
  done_steps=$(printf '%s' "$VAYU_CHECKPOINT" | tr -cd '0-9')
  echo "resuming after step ${done_steps:-0}"
fi

step=$((${done_steps:-0} + 1))
while [ "$step" -le 4 ]; do
  echo "vayu:progress $((step * 25)) step $step of 4"
  sleep "$pause"
  echo "vayu:checkpoint {\"step\": $step}"
  case "$task" in
  *fail-after-checkpoint*)
    if [ "$step" -eq 2 ] && [ "$VAYU_ATTEMPT" = 1 ]; then
      echo "failing attempt 1 after step 2, as the task's input asks" >&2
      exit 1
    fi
    ;;
  esac
  step=$((step + 1))
done

# An artifact: a file of this task's own, named by its URI.
dir="${TMPDIR:-/tmp}/vayu-artifacts/$VAYU_TASK_ID"
mkdir -p "$dir"
printf '%s\n' "$task" >"$dir/task.json"
echo "vayu:artifact task-copy file://$dir/task.json"
echo "vayu:result done by $VAYU_AGENT_ID on attempt $VAYU_ATTEMPT"
