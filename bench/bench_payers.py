"""Many payers (scripts/bench --only payers): N payers on one p2p-sandbox (all tenant bison, one
client), M members spread evenly over them, every payer with the default per-payer limits
(concurrency 4, 10 requests/s, ...). `p2p-ingestd run --once` twice per round, alternating: with
the default top-level limits (the bounds over all payers) and with those bounds set to 10000,
which leaves the per-payer limits alone. Measured: wall seconds, daemon CPU, peak RSS
(/usr/bin/time -v), and the most requests the sandbox answered at once (its /admin/stats).
Targets (300 payers, 3,000 members): peak RSS <= 64 MiB with the default limits, and the run
about as fast as with the per-payer limits alone (ratio of the best walls <= 1.10)."""
from __future__ import annotations

import json
import os
import urllib.request

import bench_lib as bl
from bench_lib import BenchError, log, table, verdict

FULL, QUICK = (300, 3000), (100, 1000)  # payers, members
TARGET_KIB, TARGET_RATIO = 64 * 1024, 1.10
UNBOUNDED = "limits:\n  max_jobs_in_flight: 10000\n  max_requests: 10000\n  max_downloads: 10000\n"


def _config(work: str, sandbox_url: str, payers: int, top: str) -> str:
    """A daemon configuration with `payers` payers p000.. on the sandbox, per-payer defaults."""
    secret = os.path.join(work, "secret")
    with open(secret, "w") as f:
        f.write(bl.CLIENT_SECRET + "\n")
    os.chmod(secret, 0o600)
    os.makedirs(os.path.join(work, "inbox"), exist_ok=True)
    text = ("state:\n  path: state.db\nstore:\n  kind: sqlite\n  path: resources.db\n"
            "log:\n  level: warn\nstatus:\n  listen: \"off\"\n"
            "source:\n  path: inbox\n  poll_interval: 100ms\n" + top + "payers:\n")
    for p in range(payers):
        text += (f"  - id: p{p:03d}\n"
                 f"    base_url: {sandbox_url}/v1/{bl.PAYER}\n"
                 "    member_match_path: /member-match-sandbox/$member-match\n"
                 "    export_path: /bulk-data/r4/Group/{group_id}/$export\n"
                 "    auth:\n"
                 f"      token_url: {sandbox_url}{bl.TOKEN_PATH}\n"
                 f"      client_id: {bl.CLIENT_ID}\n"
                 "      client_secret_file: secret\n"
                 "      scope: member-match|read\n"
                 "    trusted_hosts: [127.0.0.1]\n")
    path = os.path.join(work, "bench.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def _in_flight_peak(sandbox_url: str) -> dict:
    with urllib.request.urlopen(sandbox_url + "/admin/stats", timeout=10) as r:
        return json.loads(r.read())["in_flight_peak"]


def _run(ctx, payers: int, header: list[str], rows: list[list[str]], expected: int, top: str,
         label: str) -> tuple[bl.DaemonRun, dict]:
    with bl.TmpDir("payers") as work:
        with bl.Sandbox(ctx.build, work, ["--members", str(len(rows))]) as sb:
            config = _config(work, sb.url, payers, top)
            bl.drop_members(os.path.join(work, "inbox"), header, rows)
            log(f"payers: {payers} payers, {len(rows)} members, {label}")
            run = bl.run_daemon(ctx.build, config, sb)
            peak = _in_flight_peak(sb.url)
    if run.states.get("complete", 0) != expected:
        raise BenchError(f"{label}: {run.states}, expected {expected} complete")
    return run, peak


def many_payers(ctx) -> dict:
    payers, members = QUICK if ctx.quick else FULL
    with bl.TmpDir("payers-roster") as work:
        roster = bl.write_roster(ctx.build, members, 1, os.path.join(work, "roster"))
        header, rows = bl.roster_rows(roster)
        with open(os.path.join(roster, "expected.json")) as f:
            expected = sum(1 for m in json.load(f)["members"] if m["outcome"] == "complete")
    payer_col = header.index("prior_payer")
    for i, row in enumerate(rows):
        row[payer_col] = f"p{i % payers:03d}"
    runs: dict[str, list] = {"bounded": [], "alone": []}
    for _ in range(ctx.rounds):  # alternating, so that both see the same machine
        runs["bounded"].append(_run(ctx, payers, header, rows, expected, "",
                                    "default top-level limits"))
        runs["alone"].append(_run(ctx, payers, header, rows, expected, UNBOUNDED,
                                  "top-level limits 10000 (per-payer limits alone)"))
    best = {k: min(v, key=lambda rp: rp[0].wall) for k, v in runs.items()}
    rss = {k: max(rp[0].max_rss_kib for rp in v) for k, v in runs.items()}
    ratio = best["bounded"][0].wall / best["alone"][0].wall
    is_target = (payers, members) == FULL
    rss_ok, fast_ok = rss["bounded"] <= TARGET_KIB, ratio <= TARGET_RATIO
    out = []
    for key, name in (("bounded", "default top-level limits (512 jobs, 64 requests, 32 downloads)"),
                      ("alone", "per-payer limits alone (top-level limits 10000)")):
        run, peak = best[key]
        out.append([name, f"{run.wall:.1f}", f"{run.cpu:.1f}", f"{rss[key] / 1024:.1f}",
                    run.states.get("complete", 0), f"{peak['api']}/{peak['file']}/{peak['all']}"])
    notes = [f"wall, best of {ctx.rounds} (alternating): default limits / per-payer limits alone "
             f"= {ratio:.2f} (target <= {TARGET_RATIO:.2f}: "
             f"{verdict(fast_ok) if is_target else 'not measured'})",
             f"peak RSS with the default limits: {rss['bounded'] / 1024:.1f} MiB (target <= 64 MiB "
             f"at 300 payers: {verdict(rss_ok) if is_target else 'not measured'}), the largest "
             "of the rounds",
             "in flight = the most requests the sandbox answered at once: API (token, match, "
             "export, status) / files / all"]
    if not is_target:
        notes.append("--quick: the 300-payer targets are not measured; run without --quick")
    table(f"Many payers: {payers} payers on one sandbox, {members:,} members, default per-payer "
          "limits, sqlite store",
          ["run", "wall s", "daemon CPU s", "peak RSS MiB", "complete", "in flight api/file/all"],
          out, notes)
    if not is_target:
        return {"payers 300: peak RSS, speed (info)": ("not measured (--quick)", False)}
    return {"payers 300: peak RSS <= 64 MiB": (f"{rss['bounded'] / 1024:.1f} MiB", rss_ok),
            "payers 300: wall vs per-payer limits alone": (
                f"{best['bounded'][0].wall:.1f} s vs {best['alone'][0].wall:.1f} s "
                f"(x{ratio:.2f})", fast_ok)}
