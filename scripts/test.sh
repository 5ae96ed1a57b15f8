#!/usr/bin/env bash
# The one test command (`npm test`): formatting, lint, strict type check, the binary build, and
# every test under Deno. Tests that need Debian packages or servers install and start them
# themselves (tests/_support/). Prints a closing "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
if [ ! -x node_modules/.bin/deno ] || [ ! -x node_modules/.bin/bun ]; then
  echo "deno/bun not found in node_modules/.bin: run 'npm ci' first" >&2
  exit 1
fi
step() { printf '\n== %s\n' "$*"; }
step "deno fmt --check"; deno fmt --check
step "deno lint"; deno lint
step "deno check"; deno check mod.ts src/ plugins/ tests/ scripts/
step "build dist/tibr"; deno run -A scripts/build.ts
step "deno test"
log=$(mktemp)
set +e
NO_COLOR=1 deno test -A "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# Deno's summary: "ok | 12 passed (3 steps) | 0 failed (5s)"; repeat it in the plain form.
summary=$(grep -aE '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)
rm -f "$log"
if [ -n "$summary" ]; then
  passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
  echo "tests: ${passed} passed, ${failed} failed"
fi
exit "$rc"
