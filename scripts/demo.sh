#!/usr/bin/env bash
# The README demo: start `tibr playground` (the default sample: ~20 tables, ~50 MB), wait until
# its PD answers, back it up with `tibr backup full` to a fresh local directory, print the
# summary, and stop the playground. Uses dist/tibr when it has been built (with the playground),
# the sources otherwise. Exits non-zero if any step fails.
#
#   npm run demo            # or: bash scripts/demo.sh [extra `tibr backup full` flags]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/node_modules/.bin:$PATH"
# A dist/tibr built before the playground existed does not know the command: use the sources.
if [[ -x "$root/dist/tibr" ]] && "$root/dist/tibr" --help 2>/dev/null | grep -q '^ *playground'; then
  tibr=("$root/dist/tibr")
else
  tibr=(deno run -A "$root/src/cli/main.ts")
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tibr-demo-XXXXXX")"
out="$work/playground.out"
pg_pid=""
cleanup() {
  if [[ -n "$pg_pid" ]] && kill -0 "$pg_pid" 2>/dev/null; then
    kill -INT "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "Starting the playground (${tibr[*]} playground) ..."
"${tibr[@]}" --log-file "$work/playground.log" playground --pd-port 0 >"$out" 2>&1 &
pg_pid=$!

pd=""
for _ in $(seq 1 600); do
  if ! kill -0 "$pg_pid" 2>/dev/null; then
    echo "The playground exited before it was ready:" >&2
    cat "$out" >&2
    exit 1
  fi
  pd="$(sed -n 's/^PD address: *//p' "$out")"
  [[ -n "$pd" ]] && break
  sleep 0.2
done
if [[ -z "$pd" ]]; then
  echo "The playground did not print its PD address in 120 s; see $out" >&2
  exit 1
fi
# PD is up once its port accepts connections.
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${pd%:*}/${pd##*:}") 2>/dev/null; then break; fi
  sleep 0.1
done
cat "$out"

echo
echo "Backing up the whole cluster to local://$work/backup ..."
"${tibr[@]}" --log-file "$work/backup.log" backup full -u "$pd" -s "local://$work/backup" \
  --progress lines "$@"

echo
echo "Stopping the playground ..."
kill -INT "$pg_pid"
wait "$pg_pid"
pg_pid=""
echo "Done. Backup files are in $work/backup; logs in $work."
