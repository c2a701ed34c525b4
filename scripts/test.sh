#!/usr/bin/env bash
# The test command (README): the default suite, fast enough for every change.
# LONGTAIL_LONG=1 adds the slow real-data tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
go test -count=1 -timeout 20m ./... "$@"
