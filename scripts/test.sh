#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what the tests need, then run every test (none may be skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
export TEXTUAL_ANIMATIONS=none
exec python3 -m pytest -q -rfEs "$@"
