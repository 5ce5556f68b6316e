#!/usr/bin/env bash
# How fast p2p-sandbox serves one ~1 GB export file to `curl -o /dev/null` on loopback, and the
# sandbox's peak RSS (VmHWM). Prints a table and exits 0.
#   bench/sandbox_serve.sh [BUILD_DIR] [RUNS] [SCALE]
# SCALE is --resource-scale; 44000 makes Jay Young's ExplanationOfBenefit file about 1 GB.
set -euo pipefail
BUILD=${1:-"$(dirname "$0")/../build"}
RUNS=${2:-3}
SCALE=${3:-44000}
SANDBOX="$BUILD/p2p-sandbox"
[ -x "$SANDBOX" ] || { echo "no $SANDBOX (build first)" >&2; exit 1; }
GROUP_BODY='{"resourceType":"Parameters","parameter":[{"name":"MemberPatient","resource":{"name":[{"given":["Jay"],"family":"Young"}],"birthDate":"2001-03-11"}},{"name":"CoverageToMatch","resource":{"identifier":[{"value":"17148123-47da-43a0-8401-8d5d1368db02"}]}},{"name":"Consent","resource":{"resourceType":"Consent","status":"active","policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"}],"provision":{"type":"permit","period":{"start":"2022-01-01","end":"2035-01-31"}}}}]}'

TMP=$(mktemp -d)
"$SANDBOX" --listen 127.0.0.1:0 --job-delay 10ms --resource-scale "$SCALE" >"$TMP/out" 2>"$TMP/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/out" ] && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' "$TMP/out" | head -1)
[ -n "$URL" ] || { echo "sandbox did not start" >&2; cat "$TMP/err" >&2; exit 1; }

TOKEN=$(curl -s -X POST "$URL/auth/realms/dev-portal/protocol/openid-connect/token" \
  -d client_id=sandbox-client -d client_secret=sandbox-secret -d grant_type=client_credentials |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
AUTH="Authorization: Bearer $TOKEN"
GROUP=$(curl -s "$URL/v1/bison/member-match-sandbox/\$member-match" -H "$AUTH" \
  -H 'Content-Type: application/json' --data "$GROUP_BODY" |
  sed -n 's/.*"name":"groupId","valueString":"\([^"]*\)".*/\1/p')
JOB=$(curl -s "$URL/v1/bison/bulk-data/r4/Group/$GROUP/\$export?_type=ExplanationOfBenefit" -H "$AUTH" |
  sed -n 's/.*Track job at \([^"]*\)".*/\1/p')
FILE=""
for _ in $(seq 100); do
  FILE=$(curl -s "$JOB" -H "$AUTH" | grep -o 'http[^"]*ExplanationOfBenefit_[^"]*\.ndjson' || true)
  [ -n "$FILE" ] && break
  sleep 0.05
done
[ -n "$FILE" ] || { echo "export did not finish" >&2; exit 1; }

printf '%-5s %14s %9s %9s %14s\n' run bytes seconds MB/s sandbox_VmHWM
for i in $(seq "$RUNS"); do
  read -r BYTES SECS < <(curl -s -o /dev/null -H "$AUTH" -w '%{size_download} %{time_total}\n' "$FILE")
  HWM=$(awk '/VmHWM/ {print $2" "$3}' "/proc/$PID/status")
  MBS=$(awk -v b="$BYTES" -v s="$SECS" 'BEGIN { printf "%.0f", b / s / 1e6 }')
  printf '%-5s %14s %9s %9s %14s\n' "$i" "$BYTES" "$SECS" "$MBS" "$HWM"
done
exit 0
