#!/usr/bin/env bash
# Starts the Cloud Firestore emulator in the foreground for local work:
# 127.0.0.1, project demo-vayu, the repository's firestore.rules (if present).
#
#   emulator/start.sh [PORT]        # PORT defaults to $FIRESTORE_PORT, then 8080
#
# Then, in another shell, paste the printed `export FIRESTORE_EMULATOR_HOST=...`.
# Ctrl-C stops it. Tests do not need this: they start their own emulators.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=emulator/find-jar.sh
source "$here/find-jar.sh"

port=${1:-${FIRESTORE_PORT:-8080}}
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "usage: $0 [PORT]   (got '$port')" >&2
  exit 2
fi

java=${VAYU_JAVA:-${JAVA:-java}}
if ! command -v "$java" >/dev/null 2>&1; then
  echo "Java not found ('$java'). Install Java 17+, e.g. apt-get install openjdk-17-jre-headless" >&2
  exit 1
fi
jar=$(find_emulator_jar)

# Refuse a busy port up front: the emulator's own BindException is a long
# stack trace, and something else answering would be confusing.
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "Port $port on 127.0.0.1 is already in use. Pick another: $0 PORT" >&2
  exit 1
fi

args=(--host 127.0.0.1 --port "$port" --project_id demo-vayu)
rules="$repo/firestore.rules"
if [[ -f "$rules" ]]; then
  args+=(--rules "$rules")
  echo "Rules:   $rules" >&2
else
  echo "Rules:   none ($rules not found; every client request is allowed)" >&2
fi
echo "Jar:     $jar" >&2
echo "Run this in the shell that uses the emulator:" >&2
echo "export FIRESTORE_EMULATOR_HOST=127.0.0.1:$port"

# English only: the emulator's messages and vayu's readiness check assume it.
# shellcheck disable=SC2086 # VAYU_EMULATOR_JAVA_OPTS is a list of JVM flags
exec "$java" -Duser.language=en ${VAYU_EMULATOR_JAVA_OPTS:-} -cp "$jar" \
  com.google.cloud.datastore.emulator.firestore.CloudFirestore "${args[@]}"
