#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: `docker-compose config -q` parses
# the file, checks it against the Compose schema and resolves every ${…} interpolation.
# Run from anywhere; CI calls it from .ci/run.
#
# Uses Debian's docker-compose (1.29, needs no daemon for `config`) and installs it with
# apt-get when it is missing and we are root. A validator of the lowest version we
# support also catches features only newer Compose releases understand.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v docker-compose >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "validate-compose: installing docker-compose with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    echo "validate-compose: docker-compose is not installed and cannot be installed here (need apt-get as root)" >&2
    exit 1
  fi
fi

# Validate the file as committed, not as this machine's environment would fill it: a
# developer's .env or exported variables could hide an interpolation error (or make one).
# --env-file points at an empty file so a local .env is ignored, and `env -i` drops the
# shell's variables; HOME and PATH are all Compose itself needs.
empty_env="$(mktemp)"
trap 'rm -f "$empty_env"' EXIT
clean_env=(env -i "HOME=${HOME:-/root}" "PATH=$PATH")

check() {
  local label="$1"
  shift
  if "${clean_env[@]}" "$@" docker-compose --env-file "$empty_env" -f docker-compose.yml config -q; then
    echo "ok: docker-compose.yml ($label)"
  else
    echo "FAILED: docker-compose.yml ($label)" >&2
    exit 1
  fi
}

# Nothing set: the defaults alone must make a valid file (secrets are checked at start-up
# by Postgres and Intake, not here).
check "defaults"
# The documented way to run several API replicas: a host port range.
check "INTAKE_API_PORT=3000-3002" INTAKE_API_PORT=3000-3002
# .env.example, as a user would copy it, must also give a valid file.
if [ -f .env.example ]; then
  if "${clean_env[@]}" docker-compose --env-file .env.example -f docker-compose.yml config -q; then
    echo "ok: docker-compose.yml (.env.example)"
  else
    echo "FAILED: docker-compose.yml (.env.example)" >&2
    exit 1
  fi
fi
