"""scripts/bench's PostgreSQL store scenario (--only pg): the big export into store.kind postgres
against a floor measured in the same run on the same throwaway cluster (scripts/pg-throwaway),
the daemon's peak RSS next to a ~10 MB export's, and the CPU per resource of the daemon and of
the PostgreSQL server separately.

The floor is `psql` alone doing the store's work: `\\copy` of the same NDJSON lines (with their
member_key and id, prepared beforehand in COPY text format) into a staging table like the
store's, then the store's own merge (`INSERT ... SELECT DISTINCT ON ... ON CONFLICT`) into a
table made by the store migration's p2p_create_type_table, one transaction per file. Each timed
run (floor or daemon) gets a fresh schema, and a CHECKPOINT before it, so no run pays for an
earlier one's writes.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import bench_lib as bl
import bench_targets as bt
from bench_lib import BenchError, log, mb, table, verdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATION = os.path.join(ROOT, "migrations", "postgres-store", "001_type_tables.sql")
ROLE = "p2p_ingest"
TX_TIME = "2027-01-05T10:00:00Z"  # the floor's transactionTime (any fixed instant)
JOB_ID = 1
# PgWriter::Merge()'s statement (lib/store/pg_writer.cpp), with the floor's values in place of
# its parameters ($1 tag, $2 payer, $3 tx_time, $4 job_id). Keep the two identical.
MERGE = ("INSERT INTO {table} AS t (payer, id, member_key, tx_time, job_id, received_at, resource)"
         " SELECT DISTINCT ON (s.id) '{payer}', s.id, s.member_key, '{tx}'::timestamptz,"
         " {job}::bigint, now(), s.resource FROM pg_temp.p2p_stage s WHERE s.w = {w}"
         " ORDER BY s.id, s.seq DESC"
         " ON CONFLICT (payer, id) DO UPDATE SET member_key = EXCLUDED.member_key,"
         " tx_time = EXCLUDED.tx_time, job_id = EXCLUDED.job_id,"
         " received_at = EXCLUDED.received_at, resource = EXCLUDED.resource"
         " WHERE t.tx_time IS NULL OR EXCLUDED.tx_time IS NULL OR t.tx_time <= EXCLUDED.tx_time")
STAGE = ("CREATE TEMP TABLE IF NOT EXISTS p2p_stage (seq bigserial, w bigint, member_key text, "
         "id text, resource jsonb)")
FAST_ID = re.compile(rb'^\{"resourceType":"[A-Za-z]+","id":"([^"\\]*)"')


class PgCluster:
    """scripts/pg-throwaway's cluster in a fresh /tmp directory (owned by the postgres user when
    run as root); a context manager that stops and removes it."""

    def __init__(self):
        self.script = os.path.join(ROOT, "scripts", "pg-throwaway")
        self.dir = tempfile.mkdtemp(prefix="p2p-bench-pg-", dir="/tmp")
        self.dsn = ""

    def __enter__(self) -> "PgCluster":
        r = subprocess.run([self.script, "start", self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise BenchError(f"pg-throwaway start: {r.stderr.strip()[-400:]}")
        self.dsn = r.stdout.strip().splitlines()[-1]
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            self.postmaster = int(f.readline())
        with open(self.password_file) as f:
            self.env = dict(os.environ, PGPASSWORD=f.read().strip())
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([self.script, "stop", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def password_file(self) -> str:
        return os.path.join(self.dir, "password")

    def admin(self, sql: str) -> str:
        """psql as the superuser over the cluster's socket (pg-throwaway psql)."""
        r = subprocess.run([self.script, "psql", self.dir, "-q", "-A", "-t", "-c", sql],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"psql (superuser): {r.stderr.strip()[-300:]}")
        return r.stdout.strip()

    def psql_cmd(self, script: str) -> list[str]:
        """psql as the store's role over TCP, like the daemon, running `script`."""
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-f", script]

    def fresh_schema(self, name: str) -> None:
        """Schema `name` owned by the store's role (which may not create schemas), with nothing
        of an earlier run's left behind, and a checkpoint so that no run pays for the last."""
        self.admin(f"DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name} "
                   f"AUTHORIZATION {ROLE}; CHECKPOINT")

    def _procs(self) -> list[int]:
        out, todo = [], [self.postmaster]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                with open(f"/proc/{p}/task/{p}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return out

    def cpu_seconds(self) -> float:
        """user+sys of the cluster's processes: the postmaster with its reaped children (so
        backends that have exited count) and the live ones."""
        total = 0
        for p in self._procs():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return total / bl.CLK_TCK

    def temp_table_bytes(self) -> int:
        """Size on disk of the cluster's temporary tables (files t<backend>_<relfilenode>*):
        the store's staging table, while the daemon runs."""
        total = 0
        for path in glob.glob(os.path.join(self.dir, "data", "base", "*", "t*")):
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
        return total

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until no backend of the store's role is left (a client's exit ends its backend a
        moment later; its CPU then moves to the postmaster's cutime/cstime)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = False
            for p in self._procs()[1:]:
                try:
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        busy = busy or f.read().startswith(f"postgres: {ROLE} ".encode())
                except OSError:
                    pass
            if not busy:
                return
            time.sleep(0.02)


def _copy_text(v: bytes) -> bytes:
    """A COPY text-format field (the lines hold no tab, newline or CR: checked NDJSON)."""
    return v.replace(b"\\", b"\\\\")


def stage_files(files, member_key: str, out_dir: str) -> list[tuple[str, str, int, int]]:
    """COPY text files (w, member_key, id, resource) from the downloaded NDJSON files, outside
    the timed part: [(type, path, lines, NDJSON bytes)]. w is the file's index."""
    key = _copy_text(member_key.encode())
    out = []
    for w, (typ, path, size) in enumerate(files):
        if size == 0:
            continue
        dst = os.path.join(out_dir, f"{w:02d}_{typ}.copy")
        lines = 0
        with open(path, "rb") as src, open(dst, "wb", buffering=1 << 20) as o:
            for line in src:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                m = FAST_ID.match(line)
                rid = m[1] if m else json.loads(line)["id"].encode()
                o.write(b"%d\t%s\t%s\t%s\n" % (w, key, _copy_text(rid), _copy_text(line)))
                lines += 1
        out.append((typ, dst, lines, size))
    return out


def _floor_scripts(schema: str, staged, work: str) -> tuple[str, str]:
    """(setup script, timed script) for psql."""
    setup = os.path.join(work, "floor-setup.sql")
    with open(setup, "w") as f:
        f.write(f"SET search_path TO {schema};\n\\i {MIGRATION}\n")
        for typ in sorted({s[0] for s in staged}):
            f.write(f"SELECT {schema}.p2p_create_type_table('{schema}', '{typ}');\n")
    timed = os.path.join(work, "floor.sql")
    with open(timed, "w") as f:
        f.write(STAGE + ";\n")
        for typ, path, _, _ in staged:
            w = int(os.path.basename(path)[:2])
            f.write(f"\\copy pg_temp.p2p_stage (w, member_key, id, resource) FROM '{path}'\n")
            f.write("BEGIN;\n")
            f.write(MERGE.format(table=f'"{schema}"."{typ}"', payer=bl.PAYER, tx=TX_TIME,
                                 job=JOB_ID, w=w) + ";\n")
            f.write(f"DELETE FROM pg_temp.p2p_stage WHERE w = {w};\nCOMMIT;\n")
    return setup, timed


def _count_rows(pg: PgCluster, schema: str, types) -> int:
    return sum(int(pg.admin(f'SELECT count(*) FROM {schema}."{t}"')) for t in types)


def floor_run(pg: PgCluster, staged, work: str, schema: str) -> dict:
    """The floor once: returns wall, psql CPU and server CPU seconds, and rows stored."""
    pg.fresh_schema(schema)
    setup, timed = _floor_scripts(schema, staged, work)
    r = subprocess.run(pg.psql_cmd(setup), capture_output=True, text=True, env=pg.env)
    if r.returncode != 0:
        raise BenchError(f"floor setup: {r.stderr.strip()[-300:]}")
    pg.wait_idle()
    tv = os.path.join(work, "floor-time.txt")
    cpu0 = pg.cpu_seconds()
    start = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-v", "-o", tv] + pg.psql_cmd(timed),
                       capture_output=True, text=True, env=pg.env)
    wall = time.monotonic() - start
    if r.returncode != 0:
        raise BenchError(f"floor: {r.stderr.strip()[-300:]}")
    pg.wait_idle()
    server = pg.cpu_seconds() - cpu0
    user, sys_, _ = bl._parse_time_v(tv)
    return {"wall": wall, "client": user + sys_, "server": server,
            "rows": _count_rows(pg, schema, {s[0] for s in staged})}


def daemon_run(ctx, pg: PgCluster, sb: bl.Sandbox, work: str, name: str, header, rows,
               profile: bool = False) -> tuple[bl.DaemonRun, float, int]:
    """p2p-ingestd into a fresh schema `name`: (run, server CPU seconds, rows stored). Sets
    run.staging_peak: the most the server's temporary tables held on disk (sampled)."""
    pg.fresh_schema(name)
    pg.wait_idle()
    peak, done = [0], threading.Event()

    def watch():
        while not done.wait(0.25):
            peak[0] = max(peak[0], pg.temp_table_bytes())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cpu0 = pg.cpu_seconds()
    try:
        run = bt._daemon(ctx, sb, work, name, "postgres", header, rows, profile,
                         pg={"dsn": pg.dsn, "password_file": pg.password_file, "schema": name})
    finally:
        done.set()
        watcher.join()
    pg.wait_idle()
    server = pg.cpu_seconds() - cpu0
    run.staging_peak = peak[0]
    types = pg.admin(f"SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = "
                     f"'{name}' AND tablename <> 'p2p_store_migrations'").split(",")
    return run, server, _count_rows(pg, name, [t for t in types if t])


def postgres_store(ctx, p: bt.Probe) -> dict:
    """The PostgreSQL store scenario; returns {target: (measured, pass?)}."""
    target = (ctx.big_mib or (100 if ctx.quick else 1024)) * bt.MIB
    scale = p.scale_for(target)
    small_scale = p.scale_for(10 * bt.MIB)
    with bl.TmpDir("pg") as work, PgCluster() as pg:
        header, rows, jay = bt.jay_young(ctx.build, work)
        version = pg.admin("SHOW server_version")
        with bl.Sandbox(ctx.build, work, ["--members", "1", "--resource-scale", str(scale),
                                          "--job-delay", "10ms"]) as sb:
            log(f"postgres: big export, scale {scale}, expected ~{target / 1e6:.0f} MB")
            export = bl.start_export(sb.url, jay)
            dl = os.path.join(work, "files")
            os.makedirs(dl)
            files, _, _ = bl.curl_download(export, dl)
            staged = stage_files(files, jay["member_key"], dl)
            for _, path, _ in files:
                os.unlink(path)
            nbytes = sum(s[3] for s in staged)
            nlines = sum(s[2] for s in staged)
            log(f"postgres: {nbytes / 1e6:.1f} MB, {nlines} lines staged for the floor")
            floors, runs = [], []
            for i in range(ctx.rounds):  # alternating, so both sides see the same host
                log(f"postgres: floor round {i + 1} (psql \\copy + merge)")
                floors.append(floor_run(pg, staged, work, f"bench_floor{i + 1}"))
                runs.append(daemon_run(ctx, pg, sb, work, f"pg{i + 1}", header, rows,
                                       ctx.profile and i == 0))
            pg.admin("DROP SCHEMA IF EXISTS bench_floor1, bench_floor2, pg1, pg2 CASCADE")
        for r, _, stored in runs:
            bt._check_complete(r, 1, "postgres big export")
        for f in floors:
            if f["rows"] != runs[0][2]:
                raise BenchError(f"postgres: the floor stored {f['rows']} rows, the daemon "
                                 f"{runs[0][2]}")
        with bl.Sandbox(ctx.build, work, ["--members", "1", "--resource-scale",
                                          str(small_scale), "--job-delay", "10ms"]) as sb:
            small = [daemon_run(ctx, pg, sb, work, f"pgsmall{i + 1}", header, rows)
                     for i in range(ctx.rounds)]
        for r, _, _ in small:
            bt._check_complete(r, 1, "postgres small export")
    return _report(ctx, version, scale, small_scale, nbytes, nlines, len(staged), floors, runs,
                   small)


def _report(ctx, version, scale, small_scale, nbytes, nlines, nfiles, floors, runs, small):
    f = min(floors, key=lambda x: x["wall"])
    best = min(runs, key=lambda x: x[0].download_s or x[0].wall)
    d, d_server, _ = best
    floor_mbs, floor_rps = nbytes / f["wall"] / 1e6, nlines / f["wall"]
    d_mbs = d.file_bytes / d.download_s / 1e6
    ratio = d_mbs / floor_mbs
    rounds = f"best of {ctx.rounds}"
    res = {}
    table(f"Target 7: PostgreSQL store vs psql floor (PostgreSQL {version}, throwaway cluster, "
          f"Jay Young --resource-scale {scale}, {nfiles} files, {mb(nbytes)} MB, {rounds})",
          ["run", "resources", "MB", "seconds", "MB/s", "resources/s", "ratio", "target",
           "result"],
          [["psql \\copy + INSERT ... ON CONFLICT (floor)", f["rows"], mb(nbytes),
            f"{f['wall']:.2f}", f"{floor_mbs:.1f}", f"{floor_rps:.0f}", "1.00", "", ""],
           ["p2p-ingestd postgres (download phase)", d.resources, mb(d.file_bytes),
            f"{d.download_s:.2f}", f"{d_mbs:.1f}", f"{d.resources / d.download_s:.0f}",
            f"{ratio:.2f}", ">= 0.80", verdict(ratio >= 0.8)],
           ["p2p-ingestd postgres (whole run --once)", d.resources, mb(d.file_bytes),
            f"{d.wall:.2f}", f"{d.file_bytes / d.wall / 1e6:.1f}", f"{d.resources / d.wall:.0f}",
            f"{d.file_bytes / d.wall / 1e6 / floor_mbs:.2f}", "", ""]],
          ["floor: one psql session, per file \\copy (COPY text, member_key and id prepared "
           "beforehand) into pg_temp.p2p_stage,",
           "then the store's merge and DELETE in one transaction, into tables made by the store "
           "migration's p2p_create_type_table;",
           f"the daemon's staging table (a session temp table) peaked at "
           f"{mb(d.staging_peak)} MB on the server's disk;",
           "each run in a fresh schema after a CHECKPOINT; floor rounds "
           + ", ".join(f"{x['wall']:.2f}" for x in floors) + " s, daemon download phases "
           + ", ".join(f"{r.download_s:.2f}" for r, _, _ in runs) + " s"])
    res["7 PostgreSQL store >= 0.8 x floor"] = (
        f"{ratio:.2f} ({d_mbs:.1f} vs {floor_mbs:.1f} MB/s)", ratio >= 0.8)

    brss = max(r.max_rss_kib for r, _, _ in runs)
    srss = max(r.max_rss_kib for r, _, _ in small)
    growth = brss / srss
    ok = brss <= 48 * 1024 and growth <= 1.10
    table(f"Target 8: peak RSS of p2p-ingestd, postgres store (/usr/bin/time -v, max of "
          f"{ctx.rounds} runs; small export --resource-scale {small_scale})",
          ["store", "small MB", "small RSS MiB", "big MB", "big RSS MiB", "big/small", "target",
           "result"],
          [["postgres", mb(small[0][0].file_bytes), f"{srss / 1024:.1f}", mb(nbytes),
            f"{brss / 1024:.1f}", f"{growth:.2f}", "<= 48 MiB, <= 1.10", verdict(ok)]])
    res["8 peak RSS postgres"] = (f"{brss / 1024:.1f} MiB big, {srss / 1024:.1f} MiB small, "
                                  f"x{growth:.2f}", ok)

    us = lambda cpu, n: f"{cpu / max(n, 1) * 1e6:.1f}"  # noqa: E731
    table("Target 9: CPU per resource, PostgreSQL store (user+sys; server = the throwaway "
          "cluster's processes from /proc, over the run)",
          ["run", "resources", "client CPU s", "client us/resource", "server CPU s",
           "server us/resource", "total us/resource"],
          [["psql floor", f["rows"], f"{f['client']:.2f}", us(f["client"], f["rows"]),
            f"{f['server']:.2f}", us(f["server"], f["rows"]),
            us(f["client"] + f["server"], f["rows"])],
           ["p2p-ingestd postgres", d.resources, f"{d.cpu:.2f}", us(d.cpu, d.resources),
            f"{d_server:.2f}", us(d_server, d.resources), us(d.cpu + d_server, d.resources)]],
          [f"daemon CPU user {d.user:.2f}s sys {d.sys:.2f}s, sandbox CPU during the run "
           f"{d.sandbox_cpu:.2f}s"])
    res["9 CPU per resource postgres (info)"] = (
        f"daemon {us(d.cpu, d.resources)} us, server {us(d_server, d.resources)} us "
        f"(floor: psql {us(f['client'], f['rows'])}, server {us(f['server'], f['rows'])})", True)
    if d.profile:
        print("\n== perf profile of p2p-ingestd, postgres store (perf report, dso,symbol)")
        print(d.profile)
    return res
