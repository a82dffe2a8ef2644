"""The nightly run: check the day's export and leave a run directory people read in the morning.

Stages: take the state lock → load the export → check it (facts, rule masks, findings) → compare
with the previous run → write every output into a temporary directory beside ``--out`` and rename
it into place → commit the new state. A run directory therefore appears complete or not at all, and
the state only moves on once the run's outputs exist; a run that fails anywhere before that (an
unreadable export, a full disk) leaves the previous state as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

import perfrules.outputs.csv_jsonl as finding_files
from perfrules.api import check_datasets, default_rules_dir
from perfrules.atomic import exchange, fsync_directory, fsync_file, public_mode, write_failed
from perfrules.errors import Problem, UsageError, Where
from perfrules.evaluation.check import CheckResult
from perfrules.findings.model import evidence_labels, exit_code
from perfrules.inputs import load_inputs
from perfrules.inputs.dataset import row_totals
from perfrules.nightly.state import Comparison, StateStore, history_entry_problem
from perfrules.outputs.html_page import write_html
from perfrules.outputs.notices import NOTICES, write_nightly_notices
from perfrules.outputs.runs_index import write_index
from perfrules.outputs.workbook import DETAIL_ROWS, rule_outcomes, write_xlsx
from perfrules.rulepack.model import SEVERITIES
from perfrules.rulepack.pack import load_pack
from perfrules.rulepack.profile import load_profile

OUTPUTS = ("findings.jsonl", "findings.csv", "report.xlsx", "report.html", "summary.json", "notices")
TABLE_NAMES = ("projects", "indicators", "payments", "monitoring", "evaluations", "departments")


class Progress:
    """Stage-by-stage progress on a terminal: a bar of stages with the current one and its rows."""

    STAGES = ("load", "check", "compare", "write")
    LABELS = {"load": ("读取导出", "loading export"), "check": ("检查（事实、规则、发现）", "checking (facts, rules, findings)"),
              "compare": ("对比上次运行", "comparing with last run"), "write": ("写出报告", "writing reports")}

    def __init__(self, stream: TextIO | None, lang: str = "zh") -> None:
        self.stream, self.lang = stream, lang

    def stage(self, name: str, detail: str = "") -> None:
        """Show that stage ``name`` has started (``detail``: rows or files)."""
        if self.stream is None:
            return
        done = self.STAGES.index(name)
        bar = "█" * (done * 4) + "░" * ((len(self.STAGES) - done) * 4)
        label = self.LABELS[name][0 if self.lang != "en" else 1]
        self.stream.write(f"\r\x1b[2K{bar} {done + 1}/{len(self.STAGES)} {label} {detail}")
        self.stream.flush()

    def finish(self) -> None:
        """Clear the bar's line."""
        if self.stream is not None:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


@dataclass
class NightlyResult:
    """What a nightly run produced: where, its summary (as written to summary.json) and its exit code."""

    out: Path
    summary: dict[str, Any]
    exit_code: int
    result: CheckResult
    comparison: Comparison | None


def run_nightly(export: str | Path, out: str | Path, state: str | Path | None = None, rules_dir: str | Path | None = None,
                profile: str | None = None, as_of: dt.date | None = None, lang: str = "zh", fail_on: str = "阻断",
                progress: Progress | None = None, engine: Any = None, column_map: str | None = None,
                workbook_max_rows: int = DETAIL_ROWS) -> NightlyResult:
    """Check ``export`` (read through ``column_map``, a map name or file, when given) and write the run directory ``out``.

    ``workbook_max_rows`` caps each detail sheet of report.xlsx (the CSV and JSON Lines hold every finding)."""
    started = dt.datetime.now().replace(microsecond=0)
    progress = progress or Progress(None)
    export, out = Path(export), Path(out)
    if not export.is_dir():
        raise UsageError([Problem("nightly.not-export", f"{export} 不是导出目录。", f"{export} is not an export folder.",
                                  Where(file=str(export)), "nightly 读取一个导出目录（每表一个 CSV/XLSX/Parquet 文件）。",
                                  "nightly reads one export folder (one CSV/XLSX/Parquet file per table).")])
    check_out_dir(out, export, Path(state) if state is not None else None)
    pack = load_pack(rules_dir or default_rules_dir())
    if profile:
        load_profile(pack, profile)
    clean_leftovers(out)
    store = StateStore(state) if state is not None else None
    with store.lock() if store else contextlib.nullcontext():
        if store is not None:  # a damaged state is reported before the export is read and checked, not after
            store.validate(history_entry_problem)
        t0 = time.perf_counter()
        progress.stage("load", str(export))
        if engine is not None:  # partitions loaded and checked on a cluster (perfrules.distributed)
            result, rows = engine.check(export, pack, profile, as_of, lang, progress)
            t1 = t2 = time.perf_counter()
        else:
            datasets = load_inputs([export], column_map)
            rows = {t: sum(len(d.frame(t)) for d in datasets) for t in TABLE_NAMES}
            if rows["projects"] >= PROCESS_FINDINGS:  # likely a run whose workbook and notices are written in processes
                start_writer_server()
            t1 = time.perf_counter()
            progress.stage("check", f"{rows['projects']:,} 个项目" if lang != "en" else f"{rows['projects']:,} projects")
            result = check_datasets(datasets, pack, profile, as_of, lang)
            del datasets
            t2 = time.perf_counter()
        table = result.table
        comparison = None
        if store is not None:
            progress.stage("compare", f"{len(table):,}")
            comparison = store.compare(table, result.as_of.isoformat())
            table = comparison.findings
        else:
            table = table.assign(status=pd.Series(pd.NA, index=table.index, dtype="string"),
                                 nights=pd.Series(pd.NA, index=table.index, dtype="Int64"))
        t3 = time.perf_counter()
        code = exit_code(result.worst(), fail_on)
        timings = {"load": result.timings.get("load", t1 - t0), "facts": result.timings.get("facts", 0.0), "evaluate": result.timings.get("evaluate", 0.0),
                   "findings": result.timings.get("findings", 0.0), "compare": t3 - t2}
        summary = build_summary(result, table, comparison, rows, export, started, code, timings)
        # For the reports (issue 17): what each rule in force did, and the evidence keys' names.
        labels = evidence_labels(pack, lang)
        summary["rules"] = rule_outcomes([pack.rules[r] for r in result.rules_in_force if r in pack.rules], table, labels,
                                         {e["rule"]: e["reason"] for e in result.not_checked})
        if engine is not None:
            summary["engine"] = engine.describe()
        history = (store.history(history_entry_problem) if store else []) + [history_entry(summary)]
        progress.stage("write", str(out))
        write_run_dir(out, table, result, summary, comparison, history, lang, t3, labels, workbook_max_rows)
        if store is not None and comparison is not None:
            store.commit(comparison, history[-1])
    progress.finish()
    return NightlyResult(out, summary, code, result, comparison)


def build_summary(result: CheckResult, table: pd.DataFrame, comparison: Comparison | None, rows: dict[str, int],
                  export: Path, started: dt.datetime, code: int, timings: dict[str, float]) -> dict[str, Any]:
    """The run's figures, as written to summary.json and shown by the reports."""
    by_sev = table["severity"].value_counts()
    per_rule = table[["rule_id", "title", "severity"]].drop_duplicates("rule_id")
    titles, severities = dict(zip(per_rule["rule_id"], per_rule["title"])), dict(zip(per_rule["rule_id"], per_rule["severity"]))
    by_rule = table["rule_id"].value_counts()
    pairs = pd.DataFrame({"department": table["department"].fillna("（无部门）"), "severity": table["severity"]})
    counts = pairs.value_counts().unstack(fill_value=0) if len(table) else pd.DataFrame()
    by_department = {
        str(d): {**{s: int(counts.loc[d].get(s, 0)) for s in SEVERITIES}, "total": int(counts.loc[d].sum())}
        for d in counts.index}
    watch = table[table["watchlist"].to_numpy(dtype=bool)]
    return {
        "run": {"started": started.isoformat(), "finished": None, "as_of": ", ".join(d.isoformat() for d in result.as_of_dates),
                "profile": result.profile, "pack_version": result.pack_version, "rules_in_force": len(result.rules_in_force),
                "export": str(export), "exit_code": code},
        "inputs": rows,
        "rows": row_totals(result.row_accounting.values()),
        "counts": {"total": len(table), "by_severity": {s: int(by_sev.get(s, 0)) for s in SEVERITIES},
                   "by_rule": {r: {"title": titles.get(r, r), "severity": str(severities[r]), "count": int(by_rule[r])}
                               for r in sorted(by_rule.index, key=lambda r: (-int(by_rule[r]), r))},
                   "by_department": dict(sorted(by_department.items(), key=lambda kv: (-kv[1]["阻断"], -kv[1]["total"], kv[0]))),
                   "watchlist_projects": int(watch[["project_id", "fiscal_year"]].drop_duplicates().shape[0]),
                   "data_findings": int((table["kind"] == "data").sum())},
        "changes": dict(comparison.counts) if comparison is not None else None,
        "errors": result.errors,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def history_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """What the state keeps of a run for the trend chart."""
    return {"finished": summary["run"]["finished"] or summary["run"]["started"], "as_of": summary["run"]["as_of"],
            "total": summary["counts"]["total"], "by_severity": summary["counts"]["by_severity"]}


def write_run_dir(out: Path, table: pd.DataFrame, result: CheckResult, summary: dict[str, Any],
                  comparison: Comparison | None, history: list[dict[str, Any]], lang: str, t_start: float,
                  labels: dict[str, str] | None = None, workbook_max_rows: int = DETAIL_ROWS) -> None:
    """Write every output into a temporary directory beside ``out``, then put it at ``out`` in one step."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{TMP_INFIX}", dir=out.parent))
    except OSError as exc:
        raise write_failed(out, exc) from None
    try:
        os.chmod(tmp, public_mode(directory=True))  # mkdtemp makes it private; the run directory is for people to read
        write_marker(tmp)
        resolved = comparison.resolved if comparison is not None else None
        summary["run"]["finished"] = dt.datetime.now().replace(microsecond=0).isoformat()  # checking done; writing follows
        history[-1]["finished"] = summary["run"]["finished"]
        with output_writers(len(table)) as writers, ThreadPoolExecutor(max_workers=1) as thread:
            findings = MappedFindings.write(table, tmp / MAPPED_FINDINGS) if isinstance(writers, ProcessPoolExecutor) else table
            workbook = writers.submit(timed_write, write_xlsx, tmp / "report.xlsx", findings, summary, resolved, lang,
                                      workbook_max_rows, labels)
            notices = writers.submit(timed_write, write_nightly_notices, tmp / NOTICES, findings, summary, lang, labels)  # 整改通知
            lines = thread.submit(timed_write, finding_files.write_jsonl, tmp / "findings.jsonl", table, result.sources)
            parts = {"csv": timed_write(finding_files.write_csv, tmp / "findings.csv", table, lang),
                     "html": timed_write(lambda: write_html(tmp / "report.html", table, summary, history, resolved, lang, files=OUTPUTS))}
            parts |= {"workbook": workbook.result(), "notices": notices.result(), "jsonl": lines.result()}
        (tmp / MAPPED_FINDINGS).unlink(missing_ok=True)
        summary["write_timings"] = {k: parts[k] for k in ("workbook", "notices", "jsonl", "csv", "html")}
        summary["timings"]["write"] = round(time.perf_counter() - t_start, 3)
        summary["timings"]["total"] = round(sum(v for k, v in summary["timings"].items() if k != "total"), 3)
        (tmp / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        for name in OUTPUTS:
            if (tmp / name).is_dir():  # the notices: each file, then the folder's entries
                for notice in (tmp / name).iterdir():
                    fsync_file(notice)
            fsync_file(tmp / name)
        fsync_directory(tmp)
        replace_run_dir(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise write_failed(out, exc) from None
        raise
    write_index(out.parent, lang)  # index.html: every run in the runs folder


# A run with this many findings writes its workbook and its notices in processes of their own: both are Python
# work (XlsxWriter cells, ReportLab pages) that threads cannot spread over cores. Nightly 1M Parquet (478,862
# findings), interleaved in one run: 22.1–22.2 s end to end with these processes, 24.6–24.9 s with threads alone
# (load average 1.6–1.9); with the findings mapped from an Arrow file, 30.3–32.9 s against 32.6–33.8 s, the write
# stage 15.2–15.4 s against 17.1–18.0 s, while another engineer's benchmarks held a core (load average 2.5–3.4,
# both 2026-12-06). Below PROCESS_FINDINGS, starting the processes (about a second) costs more
# than it saves; above PROCESS_FINDINGS_MAX, the copy of the findings each process takes costs more memory than the
# time is worth. (As with any multiprocessing, a program that calls run_nightly must guard its main module.)
PROCESS_FINDINGS, PROCESS_FINDINGS_MAX = 50_000, 1_000_000


def output_writers(findings: int) -> Executor:
    """Where the workbook and the notices are written: other processes for a large run, else threads."""
    if PROCESS_FINDINGS <= findings <= PROCESS_FINDINGS_MAX:
        return ProcessPoolExecutor(max_workers=2, mp_context=writer_context())
    return ThreadPoolExecutor(max_workers=2)


MAPPED_FINDINGS = ".findings.arrow"


@dataclass(frozen=True)
class MappedFindings:
    """The findings handed to a writer process as an Arrow file it maps into memory. Pickled through the pool's
    pipe instead, the 400 MB table of a 1M-project run took 6.7–7.6 s to reach two processes, against 1.2–1.6 s
    this way (load average 4.7, 2026-12-06)."""

    path: Path

    @classmethod
    def write(cls, table: pd.DataFrame, path: Path) -> MappedFindings:
        feather.write_feather(pa.Table.from_pandas(table), path, compression="uncompressed")
        return cls(path)

    def frame(self) -> pd.DataFrame:
        return feather.read_table(self.path, memory_map=True).combine_chunks().to_pandas()  # one chunk, as the table was


def writer_context() -> multiprocessing.context.BaseContext:
    """The writer processes fork from a server that has imported the writers once (not each process for itself)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def start_writer_server() -> None:
    """Start that server now, so that it imports the writers while the export is being checked."""
    writer_context()
    multiprocessing.forkserver.ensure_running()


def timed_write(write: Callable[..., Any], *args: Any) -> float:
    """Write one output; its seconds (each output's own time: they overlap, the write stage is less than their sum)."""
    started = time.perf_counter()
    write(*(a.frame() if isinstance(a, MappedFindings) else a for a in args))
    return round(time.perf_counter() - started, 3)


# -- the run directory: ours to replace only when it carries our marker ---------------------------------

MARKER = ".perfrules-run"
TMP_INFIX, OLD_INFIX = ".tmp-", ".old-"


def write_marker(directory: Path) -> None:
    """Mark ``directory`` as a perfrules run directory (the writer's pid lets a later run tell a live one from a leftover)."""
    holder = {"tool": "perfrules", "kind": "nightly-run", "pid": os.getpid(), "host": socket.gethostname()}
    (directory / MARKER).write_text(json.dumps(holder) + "\n", encoding="utf-8")


def is_run_dir(path: Path) -> bool:
    """True when ``path`` is a real directory (not a link) holding a perfrules run marker."""
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return not path.is_symlink() and path.is_dir() and isinstance(marker, dict) and marker.get("tool") == "perfrules"


def check_out_dir(out: Path, export: Path, state: Path | None) -> None:
    """Refuse an ``--out`` that is not ours to replace: the input, the state, their parents and children,
    a file, a link, or a directory that holds anything but an earlier perfrules run."""
    target = out.resolve()
    for other, zh, en in ((export, "输入导出目录", "the input export"), (state, "状态目录", "the state directory")):
        if other is None:
            continue
        theirs = other.resolve()
        if target == theirs or target.is_relative_to(theirs) or theirs.is_relative_to(target):
            raise _refused(out, f"与{zh} {other} 相同、在其中或包含它", f"is, is inside or contains {en} {other}")
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        raise _refused(out, "已存在且不是目录", "exists and is not a directory")
    try:
        empty = next(out.iterdir(), None) is None
    except OSError as exc:
        raise write_failed(out, exc) from None
    if not empty and not is_run_dir(out):
        raise _refused(out, "已存在且不是 perfrules 的运行目录（没有 .perfrules-run 标记）",
                       "exists and is not a perfrules run directory (it has no .perfrules-run marker)")


def _refused(out: Path, why_zh: str, why_en: str) -> UsageError:
    return UsageError([Problem("nightly.out-refused", f"--out {out} {why_zh}；不会替换它。", f"--out {out} {why_en}; it will not be replaced.",
                               Where(file=str(out), field="--out"), "请为每次运行指定新的运行目录（或上次运行的目录）。",
                               "Give each run a new run directory (or an earlier run's).")])


def replace_run_dir(new: Path, target: Path) -> None:
    """Put the finished directory ``new`` at ``target``; an earlier run directory there is replaced.

    Where the system can swap two paths atomically, ``target`` always holds a whole run. Elsewhere the old
    run is first moved aside to ``.NAME.old-*``; if the process dies before the new one is in place, the
    next run moves it back (``clean_leftovers``).
    """
    if os.path.lexists(target):
        if not exchange(new, target):
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}{OLD_INFIX}", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(new, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.rmtree(new, ignore_errors=True)  # after the swap, ``new`` holds the old run
    else:
        os.replace(new, target)
    fsync_directory(target.parent)


def clean_leftovers(out: Path) -> None:
    """Tidy what killed runs left beside ``out``: move a run that was set aside back, delete abandoned temporaries.

    A temporary whose writer is still alive on this host is left alone.
    """
    try:
        entries = list(out.parent.iterdir()) if out.parent.is_dir() else []
    except OSError:
        return
    for path in entries:
        name = path.name
        if not name.startswith(f".{out.name}{OLD_INFIX}") and not name.startswith(f".{out.name}{TMP_INFIX}"):
            continue
        if name.startswith(f".{out.name}{OLD_INFIX}"):
            kept = path / out.name
            if is_run_dir(kept) and not os.path.lexists(out):
                os.replace(kept, out)
            if is_run_dir(kept) or not os.path.lexists(kept):
                shutil.rmtree(path, ignore_errors=True)
        elif _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)


def _abandoned(tmp: Path) -> bool:
    try:
        holder = json.loads((tmp / MARKER).read_text(encoding="utf-8"))
        pid, host = int(holder["pid"]), holder.get("host")
    except (OSError, ValueError, KeyError, TypeError):
        # No readable marker: the writer died before writing it (it is the first thing written) — or is
        # writing it right now; a temporary younger than a minute is given the benefit of the doubt.
        try:
            return time.time() - tmp.stat().st_mtime > 60
        except OSError:
            return False
    if host != socket.gethostname() or pid == os.getpid():
        return host == socket.gethostname()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def one_line(summary: dict[str, Any], out: Path, lang: str) -> str:
    """The run in one line, for cron's mail or log."""
    c, run = summary["counts"], summary["run"]
    sev = c["by_severity"]
    ch = summary["changes"]
    total_s = summary["timings"].get("total", 0.0)
    if lang != "en":
        text = (f"perfrules nightly {run['as_of']} {run['profile']}：{summary['inputs']['projects']:,} 个项目，"
                f"发现 {c['total']:,} 项（阻断 {sev['阻断']:,}，警告 {sev['警告']:,}，提示 {sev['提示']:,}）")
        if ch:
            text += f"；新增 {ch['new']:,}，已解决 {ch['resolved']:,}，持续 {ch['persisting']:,}"
        return text + f"；用时 {total_s:.1f} 秒 → {out}"
    text = (f"perfrules nightly {run['as_of']} {run['profile']}: {summary['inputs']['projects']:,} projects, "
            f"{c['total']:,} findings (block {sev['阻断']:,}, warn {sev['警告']:,}, info {sev['提示']:,})")
    if ch:
        text += f"; new {ch['new']:,}, resolved {ch['resolved']:,}, persisting {ch['persisting']:,}"
    return text + f"; {total_s:.1f} s → {out}"


def terminal_progress(quiet: bool, lang: str) -> Progress:
    """A progress bar on stderr when it is a terminal and not ``--quiet``; otherwise none."""
    stream = sys.stderr if not quiet and sys.stderr.isatty() else None
    return Progress(stream, lang)
