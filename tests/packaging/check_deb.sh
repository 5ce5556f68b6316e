#!/usr/bin/env bash
# Checks the layout of the p2p-ingest .deb: unpacks it (dpkg-deb -x / -e) into a temporary root
# and checks binaries, unit, sysusers and tmpfiles snippets, the conffile and its listing, the
# migrations, the control fields and the maintainer scripts.
#   tests/packaging/check_deb.sh FILE.deb         check that package
#   tests/packaging/check_deb.sh --build DIR      package build dir DIR with cpack into a temporary
#                                                 directory first (what ctest runs; cpack builds
#                                                 target `all` first, a no-op in a built tree)
#   tests/packaging/check_deb.sh                  the newest build/p2p-ingest_*.deb
# Exit 0 when every check passes; 1 with every failed check on stderr otherwise.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "check_deb: FAIL: $*" >&2; exit 1; }
for tool in dpkg-deb cmp; do
  command -v "$tool" >/dev/null || die "$tool not found: install the Debian package 'dpkg' / 'diffutils'"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ${1:-} == --build ]]; then
  build=$(cd "${2:?--build needs the build directory}" && pwd)
  [[ -f $build/CPackConfig.cmake ]] ||
    die "$build/CPackConfig.cmake missing: configure with packaging/package.cmake (cmake -S . -B build)"
  command -v cpack >/dev/null || die "cpack not found: install the Debian package 'cmake'"
  if ! log=$(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" 2>&1); then
    pre=$work/out/_CPack_Packages/Linux/DEB/PreinstallOutput.log
    [[ -f $pre ]] && log+=$'\n'"--- the build cpack ran first (target preinstall = all) ended with:"$'\n'"$(tail -20 "$pre")"
    die "cpack failed:"$'\n'"$log"
  fi
  debs=("$work"/out/p2p-ingest_*.deb)
elif [[ -n ${1:-} ]]; then
  debs=("$1")
else
  mapfile -t debs < <(find "$src/build" -maxdepth 1 -name 'p2p-ingest_*.deb' -printf '%T@ %p\n' |
    sort -rn | head -1 | cut -d' ' -f2-)
fi
deb=${debs[0]:-}
[[ -n $deb && -f $deb ]] || die "no .deb to check (run scripts/package, or pass FILE.deb / --build DIR)"

root=$work/root ctl=$work/DEBIAN
dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
dpkg-deb -e "$deb" "$ctl" || die "dpkg-deb -e $deb failed"

failures=()
check() {  # check DESCRIPTION COMMAND...: records DESCRIPTION when COMMAND fails
  local what=$1; shift
  if ! "$@" >/dev/null 2>&1; then failures+=("$what"); fi
}
same() { cmp -s "$1" "$2"; }
mode_is() { [[ $(stat -c %a "$2") == "$1" ]]; }
field() { dpkg-deb -f "$deb" "$1"; }

# Binaries.
for b in p2p-ingestd p2p-sandbox; do
  check "/usr/bin/$b missing or not executable" test -x "$root/usr/bin/$b"
  check "/usr/bin/$b is not mode 0755" mode_is 755 "$root/usr/bin/$b"
done

# systemd unit, sysusers and tmpfiles snippets.
check "/lib/systemd/system/p2p-ingestd.service differs from systemd/p2p-ingestd.service" \
  same "$root/lib/systemd/system/p2p-ingestd.service" "$src/systemd/p2p-ingestd.service"
check "/lib/systemd/system/p2p-ingestd.service is not mode 0644" \
  mode_is 644 "$root/lib/systemd/system/p2p-ingestd.service"
check "/usr/lib/sysusers.d/p2p-ingest.conf differs from systemd/p2p-ingest.sysusers" \
  same "$root/usr/lib/sysusers.d/p2p-ingest.conf" "$src/systemd/p2p-ingest.sysusers"
check "/usr/lib/sysusers.d/p2p-ingest.conf does not create user p2p-ingest" \
  grep -Eq '^u[[:space:]]+p2p-ingest[[:space:]]' "$root/usr/lib/sysusers.d/p2p-ingest.conf"
check "/usr/lib/tmpfiles.d/p2p-ingest.conf differs from systemd/p2p-ingest.tmpfiles" \
  same "$root/usr/lib/tmpfiles.d/p2p-ingest.conf" "$src/systemd/p2p-ingest.tmpfiles"

# The configuration: config/example.yaml, listed as a conffile.
check "/etc/p2p-ingest/p2p-ingest.yaml differs from config/example.yaml" \
  same "$root/etc/p2p-ingest/p2p-ingest.yaml" "$src/config/example.yaml"
check "/etc/p2p-ingest/p2p-ingest.yaml is not mode 0644" \
  mode_is 644 "$root/etc/p2p-ingest/p2p-ingest.yaml"
check "DEBIAN/conffiles does not list /etc/p2p-ingest/p2p-ingest.yaml" \
  grep -qx /etc/p2p-ingest/p2p-ingest.yaml "$ctl/conffiles"
if [[ -f $ctl/conffiles ]]; then
  while IFS= read -r f; do
    [[ -z $f ]] && continue
    check "conffile $f is not in the package" test -f "$root$f"
  done <"$ctl/conffiles"
fi
# Every file under /etc must be a conffile, or dpkg would overwrite local edits.
while IFS= read -r f; do
  check "${f#"$root"} is under /etc but not a conffile" grep -qx "${f#"$root"}" "$ctl/conffiles"
done < <(find "$root/etc" -type f 2>/dev/null)

# Migrations: every migrations/*.sql, byte for byte.
shopt -s nullglob
sqls=("$src"/migrations/*.sql)
check "no migrations/*.sql in the source tree" test ${#sqls[@]} -gt 0
for m in "${sqls[@]}"; do
  check "/usr/share/p2p-ingest/migrations/$(basename "$m") missing or different" \
    same "$root/usr/share/p2p-ingest/migrations/$(basename "$m")" "$m"
done

# Nothing outside the expected top-level directories.
while IFS= read -r f; do
  case ${f#"$root"} in
    /usr/bin/*|/usr/lib/sysusers.d/*|/usr/lib/tmpfiles.d/*|/usr/share/p2p-ingest/*|\
    /usr/share/doc/p2p-ingest/*|/lib/systemd/system/*|/etc/p2p-ingest/*) ;;
    *) failures+=("unexpected file ${f#"$root"}") ;;
  esac
done < <(find "$root" -type f -o -type l)

# Control fields: name, computed dependencies (dpkg-shlibdeps adds libc6 and friends).
check "Package is not p2p-ingest" test "$(field Package)" = p2p-ingest
check "Maintainer is empty" test -n "$(field Maintainer)"
check "Description is empty" test -n "$(field Description)"
depends=$(field Depends || true)
for lib in libc6 libstdc++6 libssl3 libsqlite3-0; do
  check "Depends does not name $lib (CPACK_DEBIAN_PACKAGE_SHLIBDEPS): '$depends'" \
    grep -q "\\b$lib\\b" <<<"$depends"
done

# Maintainer scripts: present, executable, valid sh; the service is never enabled or started.
for s in postinst prerm postrm; do
  check "DEBIAN/$s missing or not executable" test -x "$ctl/$s"
  check "DEBIAN/$s is not valid sh" sh -n "$ctl/$s"
  check "DEBIAN/$s differs from packaging/debian/$s" same "$ctl/$s" "$src/packaging/debian/$s"
done
check "postinst does not create the user with systemd-sysusers" grep -q 'systemd-sysusers' "$ctl/postinst"
# (try-restart on upgrade is fine: it only restarts a service that is already running.)
never_starts() {
  ! grep -Eq '^[[:space:]]*(systemctl[[:space:]]+(.*[[:space:]])?(enable|reenable|start|restart)([[:space:]]|$)|deb-systemd-(helper|invoke)|invoke-rc.d)' "$1"
}
check "postinst enables or starts the service" never_starts "$ctl/postinst"

if ((${#failures[@]})); then
  printf 'check_deb: FAIL: %s\n' "${failures[@]}" >&2
  echo "check_deb: $(basename "$deb"): ${#failures[@]} check(s) failed" >&2
  exit 1
fi
echo "check_deb: $(basename "$deb"): layout, conffiles, dependencies and maintainer scripts OK"
