#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium (browser tests) and PostgreSQL
# (store tests against a real server). Installed only when missing.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL for the store tests: start the cluster and create the test role and database.
bash "$(dirname "$0")/ensure_postgres.sh" >/dev/null
