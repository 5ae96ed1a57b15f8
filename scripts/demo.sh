#!/usr/bin/env bash
# The README demo: start `tibr playground` (the default sample: ~20 tables, ~50 MB), wait until
# its PD answers, back it up with `tibr backup full` to a fresh local directory, print the
# summary; then start a second, empty playground, `tibr restore full` the backup into it, compare
# both clusters table by table (rows and SHOW CREATE TABLE), and stop the playgrounds. Uses dist/tibr when it has been built (with the playground),
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
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -INT "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT

# start_playground NAME ARGS...: starts a playground on OS-picked ports, waits until its PD
# accepts connections, and sets $pd and $tidb to its addresses.
start_playground() {
  local name="$1"
  shift
  local out="$work/$name.out"
  "${tibr[@]}" --log-file "$work/$name.log" playground --pd-port 0 "$@" >"$out" 2>&1 &
  pids+=($!)
  local pid=$!
  pd=""
  tidb=""
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "The $name playground exited before it was ready:" >&2
      cat "$out" >&2
      exit 1
    fi
    pd="$(sed -n 's/^PD address: *//p' "$out")"
    tidb="$(sed -n 's/^TiDB: *\([^ ]*\).*/\1/p' "$out")"
    [[ -n "$pd" && -n "$tidb" ]] && break
    sleep 0.2
  done
  if [[ -z "$pd" ]]; then
    echo "The $name playground did not print its PD address in 120 s; see $out" >&2
    exit 1
  fi
  # PD is up once its port accepts connections.
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/${pd%:*}/${pd##*:}") 2>/dev/null; then break; fi
    sleep 0.1
  done
  cat "$out"
}

echo "Starting the source playground (${tibr[*]} playground) ..."
start_playground source
src_pd="$pd"
src_tidb="$tidb"

echo
echo "Backing up the whole cluster to local://$work/backup ..."
"${tibr[@]}" --log-file "$work/backup.log" backup full -u "$src_pd" -s "local://$work/backup" \
  --progress lines "$@"

echo
echo "Starting a second, empty playground (--data empty) to restore into ..."
start_playground target --data empty
dst_pd="$pd"
dst_tidb="$tidb"

# crm.accounts has a history (columns dropped and added FIRST/AFTER), so a copy created from SQL
# numbers its columns differently; tibr cannot re-encode such rows yet and refuses the table
# (docs/RESTORE.md), so the demo leaves it out.
skip="crm.accounts"
echo
echo "Restoring the backup into it (schemas through its TiDB, found through PD; $skip left out) ..."
"${tibr[@]}" --log-file "$work/restore.log" restore full -u "$dst_pd" \
  -s "local://$work/backup" -f '*.*' -f "!$skip" --progress lines

echo
echo "Comparing the two clusters table by table ..."
deno run -A "$root/scripts/demo_compare.ts" "$src_tidb" "$dst_tidb" --skip "$skip"

echo
echo "Stopping the playgrounds ..."
cleanup
pids=()
echo "Done. Backup files are in $work/backup; logs in $work."
