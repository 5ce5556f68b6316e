"""Member intake benchmark (scripts/bench --only intake): a member file of N rows dropped into
the inbox of `p2p-ingestd run`, whose payer points at a closed port so that only the intake
works. Measured: seconds from the daemon's start until the file is in processed/, rows per
second, and the daemon's peak RSS (VmHWM) at that moment. Target: a 1,000,000-row file taken
in with peak RSS <= 48 MiB (SQLite state)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import time

import bench_lib as bl
from bench_lib import BenchError, log, table, verdict

TARGET_ROWS, TARGET_KIB = 1_000_000, 48 * 1024
QUICK_SIZES, FULL_SIZES = (100_000,), (100_000, 1_000_000)


def _write_members(ctx, work: str, rows: int) -> str:
    """inbox/members.csv with `rows` distinct members, cycling a 1,000-member roster's rows
    under new member_keys; written under a temporary name and renamed, as the README asks."""
    header, template = bl.roster_rows(bl.write_roster(ctx.build, 1000, 1, os.path.join(work, "r")))
    key = header.index("member_key")
    inbox = os.path.join(work, "inbox")
    os.makedirs(inbox, exist_ok=True)
    tmp = os.path.join(inbox, "members.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(rows):
            row = list(template[i % len(template)])
            row[key] = f"B{i:09d}"
            w.writerow(row)
    path = os.path.join(inbox, "members.csv")
    os.rename(tmp, path)
    return path


def _take_in(ctx, rows: int) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB, members in the state DB) for one file of `rows` rows."""
    with bl.TmpDir("intake") as work:
        config = bl.write_daemon_config(work, "http://127.0.0.1:1", "sqlite", log_level="warn")
        src = _write_members(ctx, work, rows)
        size = os.path.getsize(src)
        done = os.path.join(work, "inbox", "processed", "members.csv")
        log(f"intake: {rows} rows ({size / 1e6:.0f} MB)")
        with open(os.path.join(work, "ingestd.stderr"), "w") as err:
            start = time.monotonic()
            proc = subprocess.Popen([os.path.join(ctx.build, "p2p-ingestd"), "run", "--config",
                                     config], stdout=subprocess.DEVNULL, stderr=err)
            try:
                while not os.path.exists(done):
                    if proc.poll() is not None:
                        raise BenchError(f"p2p-ingestd exit {proc.returncode} during intake")
                    if time.monotonic() - start > 900:
                        raise BenchError("intake not done after 900 s")
                    time.sleep(0.01)
                seconds = time.monotonic() - start
                hwm = bl.proc_hwm_kib(proc.pid)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        r = subprocess.run(["sqlite3", os.path.join(work, "state.db"),
                            "SELECT COUNT(*) FROM members"], capture_output=True, text=True)
        members = int(r.stdout.strip() or 0)
    return seconds, hwm, members


def member_intake(ctx) -> dict:
    sizes = QUICK_SIZES if ctx.quick else FULL_SIZES
    out_rows, res = [], {}
    for rows in sizes:
        seconds, hwm, members = _take_in(ctx, rows)
        if members != rows:
            raise BenchError(f"intake of {rows} rows left {members} members in the state DB")
        is_target = rows == TARGET_ROWS
        ok = hwm <= TARGET_KIB
        out_rows.append([f"{rows:,}", f"{seconds:.1f}", f"{rows / seconds:,.0f}",
                         f"{hwm / 1024:.1f}", "<= 48 MiB" if is_target else "(info)",
                         verdict(ok) if is_target else "-"])
        if is_target:
            res["intake 1M rows peak RSS"] = (
                f"{hwm / 1024:.1f} MiB, {rows / seconds:,.0f} rows/s", ok)
    notes = []
    if TARGET_ROWS not in sizes:
        out_rows.append([f"{TARGET_ROWS:,}", "-", "-", "-", "<= 48 MiB", "not measured"])
        notes.append("--quick: the 1,000,000-row target is not measured; run without --quick")
        # "(info)": the summary prints info rather than a verdict for a target not measured
        res["intake 1M rows peak RSS (info)"] = ("not measured (--quick)", False)
    table("Member intake: one CSV file into the SQLite state (seconds until it is in "
          "processed/, peak RSS = VmHWM then)",
          ["rows", "seconds", "rows/s", "peak RSS MiB", "target", "result"], out_rows, notes)
    return res
