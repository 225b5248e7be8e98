#!/usr/bin/env bash
# Lets firebase-tools (`firebase emulators:start|exec`) use the locally
# installed Cloud Firestore emulator instead of downloading one, which this
# project's machines cannot do.
#
# firebase-tools runs `java -jar $FIRESTORE_EMULATOR_BINARY_PATH`, but the
# google-cloud-cli jar has no Main-Class (gcloud runs it with -cp). So this
# builds a tiny wrapper jar, only a manifest with
#   Main-Class: com.google.cloud.datastore.emulator.firestore.CloudFirestore
#   Class-Path: <installed jar>
# in a cache dir (never in the repository), and prints the variables to use.
# firebase-tools also insists on Java 21+ for its emulators; the script points
# PATH at a 21+ JDK under /usr/lib/jvm when the default java is older.
#
#   eval "$(emulator/firebase-tools-wrapper.sh)"
#   npx firebase-tools emulators:exec --only firestore --project demo-vayu 'cargo test'
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=emulator/find-jar.sh
source "$here/find-jar.sh"

java_major() { # prints the major version of java binary $1, or 0
  "$1" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p' | grep . || echo 0
}

# A Java 21+ for firebase-tools: the default java if new enough, else the
# newest JDK in /usr/lib/jvm that is.
java_bin=$(command -v java || true)
if [[ -z "$java_bin" || $(java_major "$java_bin") -lt 21 ]]; then
  java_bin=""
  while IFS= read -r candidate; do
    if [[ $(java_major "$candidate") -ge 21 ]]; then
      java_bin=$candidate
      break
    fi
  done < <(find /usr/lib/jvm -mindepth 3 -maxdepth 3 -path '*/bin/java' 2>/dev/null | sort -V -r)
fi
if [[ -z "$java_bin" ]]; then
  echo "firebase-tools needs Java 21+; none found on PATH or in /usr/lib/jvm." >&2
  exit 1
fi
java_dir=$(dirname "$java_bin")

jar_tool=$(command -v jar || true)
[[ -x "$java_dir/jar" ]] && jar_tool="$java_dir/jar"
if [[ -z "$jar_tool" ]]; then
  echo "The JDK 'jar' tool is needed to build the wrapper (install a JDK, not only a JRE)." >&2
  exit 1
fi

emulator_jar=$(find_emulator_jar)
# One wrapper per emulator jar version, keyed by path, size and mtime.
key=$(stat -c '%n %s %Y' "$emulator_jar" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/vayu/firestore-emulator-wrapper"
wrapper="$cache/cloud-firestore-emulator-wrapper-$key.jar"

if [[ ! -f "$wrapper" ]]; then
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  printf 'Main-Class: com.google.cloud.datastore.emulator.firestore.CloudFirestore\nClass-Path: %s\n' \
    "$emulator_jar" >"$work/MANIFEST.MF"
  # `jar` wants at least one file besides the manifest.
  echo "Wrapper around $emulator_jar for firebase-tools; built by vayu's emulator/firebase-tools-wrapper.sh" \
    >"$work/README.txt"
  "$jar_tool" --create --file "$work/wrapper.jar" --manifest "$work/MANIFEST.MF" -C "$work" README.txt
  mv "$work/wrapper.jar" "$wrapper"
fi

echo "# Cloud Firestore emulator for firebase-tools: $emulator_jar" >&2
echo "export FIRESTORE_EMULATOR_BINARY_PATH=$wrapper"
if [[ "$(command -v java || true)" != "$java_bin" ]]; then
  echo "export PATH=$java_dir:\$PATH"
fi
