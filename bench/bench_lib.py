"""Helpers for scripts/bench: start p2p-sandbox, fetch an export with curl the way the
seed does, write a daemon configuration, run p2p-ingestd under /usr/bin/time -v, read its state
DB, and print aligned tables. Python 3.11 standard library only; loopback only.

Nothing here is a test: every helper raises BenchError on a failure the caller prints and goes on.
Temporary data lives under /tmp (TmpDir) and is deleted by the scenario that made it.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
PAYER = "bison"
TOKEN_PATH = "/auth/realms/dev-portal/protocol/openid-connect/token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATE_DOWNLOADING, STATE_COMPLETE = 5, 6
STATE_NAMES = ["pending", "matching", "matched", "exporting", "polling", "downloading",
               "complete", "no_match", "consent_refused", "consent_expired", "failed", "cancelled"]


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class TmpDir:
    """A fresh directory under /tmp, removed on exit from the with-block."""

    def __init__(self, prefix: str):
        self.path = tempfile.mkdtemp(prefix=f"p2p-bench-{prefix}-", dir="/tmp")

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def proc_cpu_seconds(pid: int) -> float:
    """user+sys CPU seconds of a live process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# p2p-sandbox


class Sandbox:
    """p2p-sandbox on 127.0.0.1:0 with the given flags; a context manager that stops it."""

    def __init__(self, build: str, workdir: str, args: list[str], track_files: bool = False):
        """track_files: read the request log through a pipe and note when each file download
        ended (monotonic clock), for timed_files(). Off by default: a busy sandbox must never
        wait on the reader."""
        self.binary = os.path.join(build, "p2p-sandbox")
        self.out_path = os.path.join(workdir, "sandbox.out")
        self.log_path = os.path.join(workdir, "sandbox.log")
        self.args = ["--listen", "127.0.0.1:0"] + args
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.track = track_files
        self.timed: list[tuple[float, str, int, int]] = []  # (end, status, bytes, ms)
        self.reader: threading.Thread | None = None

    def _read_log(self, pipe, sink) -> None:
        for raw in pipe:
            now = time.monotonic()
            sink.write(raw)
            parts = raw.decode("utf-8", "replace").split()
            if len(parts) == 5 and parts[0] == "GET" and "/$export/file/" in parts[1]:
                self.timed.append((now, parts[2], int(parts[3]), int(parts[4].rstrip("ms"))))
        sink.close()

    def __enter__(self) -> "Sandbox":
        out = open(self.out_path, "w")
        err = open(self.log_path, "wb", buffering=0)
        self.proc = subprocess.Popen([self.binary] + self.args, stdout=out,
                                     stderr=subprocess.PIPE if self.track else err,
                                     stdin=subprocess.DEVNULL)
        out.close()
        if self.track:
            self.reader = threading.Thread(target=self._read_log, args=(self.proc.stderr, err),
                                           daemon=True)
            self.reader.start()
        else:
            err.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                line = f.readline()
            if line.startswith("listening on ") and line.endswith("\n"):
                self.url = line[len("listening on "):].strip()
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise BenchError(f"p2p-sandbox did not start: {open(self.log_path).read()[-500:]}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.reader is not None:
            self.reader.join(timeout=5)
            self.reader = None
        self.proc = None

    def timed_files(self, since: int = 0) -> list[tuple[float, float, str, int]]:
        """(start, end, status, bytes) of the file downloads tracked after index `since`."""
        return [(end - ms / 1000.0, end, st, n) for end, st, n, ms in self.timed[since:]]

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def hwm_kib(self) -> int:
        return proc_hwm_kib(self.proc.pid)


def write_roster(build: str, members: int, seed: int, out_dir: str) -> str:
    """`p2p-sandbox roster`; returns the directory holding members.csv and expected.json."""
    r = subprocess.run([os.path.join(build, "p2p-sandbox"), "roster", "--members", str(members),
                        "--seed", str(seed), "--out", out_dir, "--payer", PAYER],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"roster: {r.stderr.strip()}")
    return out_dir


def roster_rows(roster_dir: str) -> tuple[list[str], list[list[str]]]:
    with open(os.path.join(roster_dir, "members.csv"), newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def drop_members(inbox: str, header: list[str], rows: list[list[str]]) -> None:
    """Writes the rows into inbox/members.csv by atomic rename, as the README asks."""
    os.makedirs(inbox, exist_ok=True)
    tmp = os.path.join(inbox, "members.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.rename(tmp, os.path.join(inbox, "members.csv"))


# ---------------------------------------------------------------------------------------------
# The seed's curl flow (token -> $member-match -> $export -> poll -> files)


def _http(url: str, data: bytes | None = None, headers: dict | None = None) -> bytes:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def match_body(row: dict) -> bytes:
    given = row["given"].split()
    policy = "sensitive" if row["consent_policy"] == "sensitive" else "regular"
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "MemberPatient", "resource": {
            "resourceType": "Patient", "name": [{"given": given, "family": row["family"]}],
            "birthDate": row["birth_date"]}},
        {"name": "CoverageToMatch", "resource": {
            "resourceType": "Coverage", "identifier": [{"value": row["prior_coverage_id"]}]}},
        {"name": "Consent", "resource": {
            "resourceType": "Consent", "status": "active",
            "policy": [{"uri": "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-"
                               f"hrex-consent.html#{policy}"}],
            "provision": {"type": "permit", "period": {"start": row["consent_start"],
                                                       "end": row["consent_end"]}}}}]}
    return json.dumps(body).encode()


@dataclass
class Export:
    token: str
    files: list[tuple[str, str]]  # (type, url)


def start_export(base: str, row: dict, types: str = "") -> Export:
    form = urllib.parse.urlencode({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                   "grant_type": "client_credentials",
                                   "scope": "member-match|read"}).encode()
    token = json.loads(_http(base + TOKEN_PATH, form))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    answer = json.loads(_http(f"{base}/v1/{PAYER}/member-match-sandbox/$member-match",
                              match_body(row), {**auth, "Content-Type": "application/json"}))
    group = next(p["valueString"] for p in answer["parameter"] if p["name"] == "groupId")
    query = f"?_type={types}" if types else ""
    kick = _http(f"{base}/v1/{PAYER}/bulk-data/r4/Group/{group}/$export{query}", None, auth)
    job_url = re.search(r"Track job at (\S+?)\"", kick.decode()).group(1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = json.loads(_http(job_url, None, auth))
        if status.get("status") == "Successful":
            return Export(token, [(o["type"], o["url"]) for o in status["output"]])
        if status.get("status") == "Failed":
            raise BenchError("sandbox export failed")
        time.sleep(0.02)
    raise BenchError("sandbox export did not finish")


def curl_download(export: Export, out_dir: str | None, compressed: bool = False):
    """Sequential `curl -s -o FILE` of every file. Returns (files [(type, path, bytes)],
    body bytes on the wire, wall seconds). out_dir None: -o /dev/null."""
    files, wire = [], 0
    start = time.monotonic()
    for i, (typ, url) in enumerate(export.files):
        path = os.path.join(out_dir, f"{i:02d}_{typ}.ndjson") if out_dir else "/dev/null"
        cmd = ["curl", "-s", "-f", "-o", path, "-w", "%{size_download}",
               "-H", f"Authorization: Bearer {export.token}", url]
        if compressed:
            cmd.insert(1, "--compressed")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"curl {typ}: exit {r.returncode}")
        wire += int(r.stdout.strip() or 0)
        files.append((typ, path, os.path.getsize(path) if out_dir else 0))
    return files, wire, time.monotonic() - start


# ---------------------------------------------------------------------------------------------
# p2p-ingestd


def write_daemon_config(work: str, sandbox_url: str, store: str, concurrency: int = 4,
                        rps: int = 10000, export_query: str = "", log_level: str = "info",
                        accept_gzip: bool = False, pg: dict | None = None) -> str:
    """A config like tests/integration/daemon_harness.cpp's; returns its path. The store is
    work/resources.db (sqlite), work/resources/ (ndjson) or, for postgres, pg's dsn,
    password_file and schema; state work/state.db; inbox work/inbox.
    accept_gzip (payers[].download.accept_gzip) is off by default: on loopback the daemon then
    gets the same identity bytes as the `curl -s -o FILE` baseline, and the sandbox does not
    spend one of the two shared cores compressing what the daemon spends the other inflating."""
    secret = os.path.join(work, "secret")
    with open(secret, "w") as f:
        f.write(CLIENT_SECRET + "\n")
    os.chmod(secret, 0o600)
    os.makedirs(os.path.join(work, "inbox"), exist_ok=True)
    if store == "postgres":
        where = (f'  dsn: "{pg["dsn"]}"\n  password_file: {pg["password_file"]}\n'
                 f'  schema: {pg["schema"]}')
    else:
        where = f'  path: {"resources.db" if store == "sqlite" else "resources"}'
    text = f"""state:
  path: state.db
store:
  kind: {store}
{where}
log:
  level: {log_level}
status:
  listen: "off"
source:
  kind: directory
  path: inbox
  poll_interval: 100ms
payers:
  - id: {PAYER}
    base_url: {sandbox_url}/v1/{PAYER}
    member_match_path: /member-match-sandbox/$member-match
    export_path: /bulk-data/r4/Group/{{group_id}}/$export{export_query}
    auth:
      method: client_secret_post
      token_url: {sandbox_url}{TOKEN_PATH}
      client_id: {CLIENT_ID}
      client_secret_file: secret
      scope: member-match|read
    trusted_hosts: [127.0.0.1]
    limits:
      concurrency: {concurrency}
      requests_per_second: {rps}
    retry:
      max_attempts: 8
      base_delay: 10ms
      max_delay: 200ms
    poll:
      min_interval: 10ms
      max_interval: 100ms
      timeout: 10m
    download:
      accept_gzip: {"true" if accept_gzip else "false"}
    request_timeout: 60s
"""
    path = os.path.join(work, "bench.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


@dataclass
class DaemonRun:
    wall: float = 0.0           # whole `run --once`, seconds
    user: float = 0.0
    sys: float = 0.0
    max_rss_kib: int = 0
    resources: int = 0          # "resources stored" (this run)
    files: int = 0
    mb_downloaded: float = 0.0  # the summary's figure (decoded NDJSON bytes / 1e6)
    file_bytes: int = 0         # SUM(files.bytes) of output files in the state DB
    download_s: float = 0.0     # first ->downloading to last ->complete event
    states: dict = field(default_factory=dict)
    sandbox_cpu: float = 0.0    # the sandbox's CPU seconds during the run
    profile: str = ""
    stopped: bool = False       # stopped by SIGTERM at the deadline
    staging_peak: int = 0       # postgres store: the server's temp tables at most, bytes

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    @property
    def terminal(self) -> int:
        return sum(n for s, n in self.states.items() if STATE_NAMES.index(s) >= STATE_COMPLETE)


def _parse_time_v(path: str) -> tuple[float, float, int]:
    user = sys_ = 0.0
    rss = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("User time (seconds):"):
                user = float(line.split(":")[1])
            elif line.startswith("System time (seconds):"):
                sys_ = float(line.split(":")[1])
            elif line.startswith("Maximum resident set size (kbytes):"):
                rss = int(line.split(":")[1])
    return user, sys_, rss


def _descendant(pid: int, name: str) -> int | None:
    """The first descendant of pid whose comm is `name` (p2p-ingestd under time/perf)."""
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == name[:15]:
                    return p
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return None


def run_daemon(build: str, config: str, sandbox: Sandbox | None = None,
               deadline: float | None = None, profile: bool = False) -> DaemonRun:
    """`p2p-ingestd run --once` under /usr/bin/time -v (and perf record with profile=True).
    At `deadline` (monotonic) the daemon gets SIGTERM, stops at its next committed step and
    prints its summary: the run is then marked stopped."""
    work = os.path.dirname(config)
    tv = os.path.join(work, "time-v.txt")
    cmd = ["/usr/bin/time", "-v", "-o", tv, os.path.join(build, "p2p-ingestd"), "run", "--once",
           "--config", config]
    perf_data = os.path.join(work, "perf.data")
    if profile:
        cmd = ["perf", "record", "-q", "-F", "499", "-g", "-o", perf_data, "--"] + cmd
    cpu0 = sandbox.cpu_seconds() if sandbox else 0.0
    start = time.monotonic()
    stopped = False
    with open(os.path.join(work, "ingestd.stderr"), "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            stdout, _ = proc.communicate(
                timeout=None if deadline is None else max(1.0, deadline - start))
        except subprocess.TimeoutExpired:
            stopped = True
            daemon = _descendant(proc.pid, "p2p-ingestd")
            if daemon is not None:
                os.kill(daemon, signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise BenchError("p2p-ingestd did not stop within 30 s of SIGTERM")
    r = subprocess.CompletedProcess(cmd, proc.returncode, stdout)
    run = DaemonRun(wall=time.monotonic() - start, stopped=stopped)
    if sandbox:
        run.sandbox_cpu = sandbox.cpu_seconds() - cpu0
    if r.returncode != 0:
        tail = open(os.path.join(work, "ingestd.stderr")).read()[-800:]
        raise BenchError(f"p2p-ingestd exit {r.returncode}: {tail}")
    run.user, run.sys, run.max_rss_kib = _parse_time_v(tv)
    m = re.search(r"this run: (\d+) files, (\d+) resources stored, \d+ bad lines, ([\d.]+) MB",
                  r.stdout)
    if not m:
        raise BenchError(f"no summary line in p2p-ingestd output: {r.stdout[-400:]}")
    run.files, run.resources, run.mb_downloaded = int(m[1]), int(m[2]), float(m[3])
    db = sqlite3.connect(f"file:{os.path.join(work, 'state.db')}?mode=ro", uri=True)
    try:
        run.states = {STATE_NAMES[s]: n for s, n in
                      db.execute("SELECT state, COUNT(*) FROM members GROUP BY state")}
        run.file_bytes = db.execute(
            "SELECT COALESCE(SUM(bytes),0) FROM files WHERE kind=0").fetchone()[0]
        a, _ = db.execute(f"SELECT MIN(at_ms), 0 FROM events WHERE to_state={STATE_DOWNLOADING}"
                          ).fetchone()
        b, _ = db.execute(f"SELECT MAX(at_ms), 0 FROM events WHERE to_state={STATE_COMPLETE}"
                          ).fetchone()
        run.download_s = (b - a) / 1000.0 if a is not None and b is not None else 0.0
    finally:
        db.close()
    if profile:
        rep = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children",
                              "--sort", "comm,dso,symbol", "--percent-limit", "1.5", "-g", "none"],
                             capture_output=True, text=True)
        lines = [re.sub(r"(\s+-)*\s*$", "", l) for l in rep.stdout.splitlines()
                 if l.strip() and not l.startswith("#")]
        run.profile = "\n".join(lines[:25])
    return run


def vm_steps(db_path: str, sql: str, params: list) -> int:
    """SQLite's "Virtual Machine Steps" for one run of `sql` (sqlite3 CLI .stats), a
    machine-independent measure of how many rows a query visits."""
    cmd = ["sqlite3", db_path]
    for i, p in enumerate(params, 1):
        cmd.append(f".parameter set ?{i} {p!r}" if isinstance(p, str) else
                   f".parameter set ?{i} {p}")
    r = subprocess.run(cmd + [".stats on", sql], capture_output=True, text=True)
    m = re.search(r"Virtual Machine Steps:\s+(\d+)", r.stdout)
    if not m:
        raise BenchError(f"sqlite3 .stats: {r.stderr.strip()[:200]}")
    return int(m[1])


def copy_db(src: str, dst: str) -> None:
    a = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    b = sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def explain(db_path: str, sql: str) -> str:
    """EXPLAIN QUERY PLAN with the sqlite3 CLI, as the issue asks."""
    r = subprocess.run(["sqlite3", "-readonly", db_path, "EXPLAIN QUERY PLAN " + sql],
                       capture_output=True, text=True)
    return (r.stdout + r.stderr).rstrip()


# ---------------------------------------------------------------------------------------------
# Output


def table(title: str, header: list[str], rows: list[list], notes: list[str] = ()) -> None:
    """Prints `== title`, an aligned table (first column left, others right) and notes."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n== {title}")
    for r in cells:
        print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                        for i, c in enumerate(r)).rstrip())
    for n in notes:
        print(f"   {n}")
    sys.stdout.flush()


def mb(n: float) -> str:
    return f"{n / 1e6:.1f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
