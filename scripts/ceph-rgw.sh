#!/usr/bin/env bash
# A throwaway single-node Ceph cluster (monitor + in-memory OSD + RADOS Gateway) on 127.0.0.1,
# without cephx: a real S3 server for tests and benchmarks (it honours If-None-Match: * and
# If-Match on PutObject, multipart uploads, ListObjectsV2, DeleteObjects).
#
#   start:  scripts/ceph-rgw.sh DIR RGW_PORT [MON_PORT]   (about 12 s, about 250 MB RSS)
#   stop:   scripts/ceph-rgw.sh --stop DIR                (kills the daemons, removes DIR)
#
# Needs the Debian packages ceph-mon, ceph-osd and radosgw. On success the last line on stdout
# is "RGW_ENDPOINT=http://127.0.0.1:RGW_PORT"; use path-style addressing, region us-east-1 and
# the keys printed as RGW_ACCESS_KEY / RGW_SECRET_KEY (the secret holds '+' and '/', as real
# ones do). Buckets are created by the client.
#
# The monitor port is a parameter (default 6789) so that several clusters can run side by side,
# each in its own DIR. Do not run `ceph osd purge` here: without a manager it hangs.
set -euo pipefail

stop() {
  local d=$1
  [ -d "$d" ] || return 0
  local pids=()
  for f in "$d"/run/*.pid; do
    [ -f "$f" ] && pids+=("$(cat "$f")")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      local alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.2
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$d"
}

if [ "${1:-}" = "--stop" ]; then
  stop "$(realpath -m "${2:?usage: ceph-rgw.sh --stop DIR}")"
  exit 0
fi

D=$(realpath -m "${1:?usage: ceph-rgw.sh DIR RGW_PORT [MON_PORT]}")
P=${2:-7480}
M=${3:-6789}
ACCESS_KEY=${RGW_ACCESS_KEY:-AKTIBRTEST}
SECRET_KEY=${RGW_SECRET_KEY:-Sk+tibr/test+Secret/Key0}
for cmd in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
  command -v "$cmd" >/dev/null || {
    echo "ceph-rgw.sh: $cmd not found; install: apt-get install ceph-mon ceph-osd radosgw" >&2
    exit 1
  }
done
stop "$D"
mkdir -p "$D"/{mon-a,osd-0,run,log,rgw}
cd "$D"
# If starting fails half way, say where and leave no daemons behind.
trap 'echo "ceph-rgw.sh: failed (line $LINENO): $BASH_COMMAND" >&2' ERR
trap 'rc=$?; if [ $rc -ne 0 ]; then tail -n 5 "$D"/log/*.log >&2 2>/dev/null || true; stop "$D"; fi' EXIT

FSID=$(cat /proc/sys/kernel/random/uuid)
cat >ceph.conf <<EOF
[global]
fsid = $FSID
mon initial members = a
mon host = v1:127.0.0.1:$M
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
keyring = $D/keyring
[mon]
mon data = $D/mon-\$id
[osd]
osd data = $D/osd-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$P tcp_nodelay=1
rgw data = $D/rgw
# Reclaim deleted objects within seconds (default: hours), so the in-memory OSD does not fill
# up when tests and benchmarks write and delete gigabytes.
rgw gc obj min wait = 2
rgw gc processor period = 2
rgw gc processor max time = 2
# STS AssumeRole, for the s3 plugin's role-arn option (role arn:aws:iam:::role/tibr-test).
rgw s3 auth use sts = true
rgw sts key = tibrtestststkey1
EOF
C=(-c "$D/ceph.conf")
ceph-authtool --create-keyring keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$M]" --fsid "$FSID" monmap >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap monmap --keyring keyring
ceph-mon "${C[@]}" -i a
U=$(cat /proc/sys/kernel/random/uuid)
timeout 30 ceph "${C[@]}" osd new "$U" >/dev/null
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$U" 2>/dev/null
timeout 30 ceph "${C[@]}" osd crush add osd.0 1.0 root=default >/dev/null 2>&1
# The OSD sometimes sends its first monitor command before it has the monitor map (Ceph logs
# "handle_command on fsid 00000000-...") and exits; starting it again gets past that.
osd_up=0
for _ in 1 2 3 4 5; do
  if ceph-osd "${C[@]}" -i 0 2>/dev/null; then
    osd_up=1
    break
  fi
  sleep 1
done
if [ $osd_up -ne 1 ]; then
  echo "ceph-rgw.sh: ceph-osd failed to start 5 times; see $D/log/osd.0.log" >&2
  exit 1
fi
radosgw "${C[@]}" -n client.rgw.a
up=0
for _ in $(seq 60); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null; then
    up=1
    break
  fi
  sleep 1
done
if [ $up -ne 1 ]; then
  echo "ceph-rgw.sh: radosgw did not listen on 127.0.0.1:$P within 60 s" >&2
  exit 1
fi
timeout 60 radosgw-admin "${C[@]}" user create --uid=test --display-name=test \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
timeout 60 radosgw-admin "${C[@]}" caps add --uid=test --caps="roles=*" >/dev/null
timeout 60 radosgw-admin "${C[@]}" role create --role-name=tibr-test --path=/ \
  --assume-role-policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/test"]},"Action":["sts:AssumeRole"]}]}' >/dev/null
timeout 60 radosgw-admin "${C[@]}" role-policy put --role-name=tibr-test --policy-name=all \
  --policy-doc='{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::*"}}' >/dev/null
trap - EXIT ERR
echo "RGW_PIDS=$(cat run/*.pid | tr '\n' ' ')"
echo "RGW_ACCESS_KEY=$ACCESS_KEY"
echo "RGW_SECRET_KEY=$SECRET_KEY"
echo "RGW_ROLE_ARN=arn:aws:iam:::role/tibr-test"
echo "RGW_ENDPOINT=http://127.0.0.1:$P"
