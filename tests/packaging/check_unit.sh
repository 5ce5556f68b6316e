#!/usr/bin/env bash
# Checks systemd/p2p-ingestd.service:
#   1. `systemd-analyze verify` prints nothing (any warning fails the test), and
#   2. `systemd-analyze security --offline=true` reports an overall exposure level <= 1.5.
# verify checks that ExecStart=/ExecReload= binaries exist, so it runs in a temporary root
# holding the host's systemd units, the unit under test, /bin/kill and the built p2p-ingestd.
#   tests/packaging/check_unit.sh [UNIT_FILE [P2P_INGESTD_BINARY]]
# Exit 0 when both pass; 1 with a reason on stderr otherwise.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
unit=${1:-$src/systemd/p2p-ingestd.service}
ingestd=${2:-${P2P_INGESTD:-$src/build/p2p-ingestd}}
max_exposure=1.5

fail() { echo "check_unit: FAIL: $*" >&2; exit 1; }

command -v systemd-analyze >/dev/null ||
  fail "systemd-analyze not found: install the Debian package 'systemd' (apt-get install systemd)"
[[ -f $unit ]] || fail "$unit: no such unit file"
[[ -x /bin/kill ]] || fail "/bin/kill not found (ExecReload= uses it): install the Debian package 'procps'"
[[ -x $ingestd ]] || fail "$ingestd: p2p-ingestd is not built (cmake --build build)"
[[ $(basename "$unit") == p2p-ingestd.service ]] || fail "$unit: must be named p2p-ingestd.service"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$unit" "$root/usr/lib/systemd/system/p2p-ingestd.service"
cp "$ingestd" "$root/usr/bin/p2p-ingestd"
cp /bin/kill "$root/usr/bin/kill"

# 1. verify: exit status and silence (unknown keys and bad values are only warnings).
if ! out=$(systemd-analyze verify --root="$root" p2p-ingestd.service 2>&1); then
  fail "systemd-analyze verify failed:"$'\n'"$out"
fi
[[ -z $out ]] || fail "systemd-analyze verify is not clean:"$'\n'"$out"
echo "check_unit: verify clean"

# 2. security: parse "Overall exposure level for p2p-ingestd.service: 1.1 OK".
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) ||
  fail "systemd-analyze security failed:"$'\n'"$out"
level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$out")
[[ -n $level ]] || fail "no 'Overall exposure level' in systemd-analyze security output:"$'\n'"$out"
if ! awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }'; then
  fail "exposure level $level > $max_exposure; items with exposure:"$'\n'"$(grep '✗' <<<"$out")"
fi
echo "check_unit: exposure level $level <= $max_exposure"
