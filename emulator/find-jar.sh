# shellcheck shell=bash
# Sourced by the scripts in emulator/ and by .ci/run. Defines find_emulator_jar,
# which prints the Cloud Firestore emulator jar path, searching in the same
# order as vayu::emulator::find_jar() so humans, CI and tests agree:
#   1. $VAYU_EMULATOR_JAR (explicit; an invalid value is an error)
#   2. the google-cloud-cli apt install
#   3. $CLOUDSDK_ROOT_DIR, then `gcloud info`'s sdk_root
#   4. the newest ~/.cache/firebase/emulators/cloud-firestore-emulator-v*.jar
# On failure it prints what to install, and where it looked, to stderr.

find_emulator_jar() {
  local rel=platform/cloud-firestore-emulator/cloud-firestore-emulator.jar
  local looked=() jar root

  if [[ -n "${VAYU_EMULATOR_JAR:-}" ]]; then
    if [[ -f "$VAYU_EMULATOR_JAR" ]]; then
      printf '%s\n' "$VAYU_EMULATOR_JAR"
      return 0
    fi
    looked+=("VAYU_EMULATOR_JAR=$VAYU_EMULATOR_JAR (not a file; set explicitly, so no fallback)")
  else
    looked+=("VAYU_EMULATOR_JAR (not set)")
    local candidates=("/usr/lib/google-cloud-sdk/$rel")
    [[ -n "${CLOUDSDK_ROOT_DIR:-}" ]] && candidates+=("$CLOUDSDK_ROOT_DIR/$rel")
    for jar in "${candidates[@]}"; do
      if [[ -f "$jar" ]]; then
        printf '%s\n' "$jar"
        return 0
      fi
      looked+=("$jar: missing")
    done

    if command -v gcloud >/dev/null 2>&1; then
      root=$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)
      if [[ -n "$root" && -f "$root/$rel" ]]; then
        printf '%s\n' "$root/$rel"
        return 0
      fi
      looked+=("gcloud info sdk_root '${root}': no $rel")
    else
      looked+=("gcloud: not on PATH")
    fi

    local cache="${HOME:-/nonexistent}/.cache/firebase/emulators"
    # Highest version, compared numerically (sort -V), not by file date.
    jar=$(find "$cache" -maxdepth 1 -name 'cloud-firestore-emulator-v*.jar' -type f 2>/dev/null |
      sort -V | tail -n 1)
    if [[ -n "$jar" ]]; then
      printf '%s\n' "$jar"
      return 0
    fi
    looked+=("$cache/cloud-firestore-emulator-v*.jar (firebase-tools cache): none")
  fi

  {
    echo "Cloud Firestore emulator jar not found. Install it with one of:"
    echo "  apt-get install google-cloud-cli-firestore-emulator   (Google Cloud CLI's apt repository; also needs Java 17+)"
    echo "  npx firebase-tools setup:emulators:firestore          (caches the jar in ~/.cache/firebase/emulators)"
    echo "or point VAYU_EMULATOR_JAR at a cloud-firestore-emulator jar."
    echo "Looked in:"
    printf '  - %s\n' "${looked[@]}"
  } >&2
  return 1
}
