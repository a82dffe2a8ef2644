"""``notices``: the per-department 整改通知 (workbook and PDF) from a nightly run directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from perfrules.atomic import public_mode
from perfrules.cli.options import remember_lang
from perfrules.errors import Problem, UsageError, Where


@click.command(name="notices")
@click.argument("run_dir", type=click.Path())
@click.option("--out", "out", type=click.Path(file_okay=False), metavar="DIR",
              help="写到此目录（整体写出或不写），默认 RUN_DIR/notices。(folder to write, whole or not at all; default RUN_DIR/notices.)")
@click.option("--department", "departments", multiple=True, metavar="NAME",
              help="只写该主管部门的通知，可重复；无部门的发现为“无部门”。(only this department; repeatable.)")
@click.option("--max-rows", type=click.IntRange(min=1), default=200, show_default=True,
              help="每份通知工作簿最多列出的发现数，最严重的在前；部门发现更多时另写 <部门>.csv 列出全部。例：--max-rows 5000。"
                   "(most findings listed per notice workbook, most severe first; a department with more also gets "
                   "<department>.csv with all of them. Example: --max-rows 5000.)")
@click.option("--pdf-rows", type=click.IntRange(min=1), metavar="N",
              help="PDF 最多列出的发现数，默认同 --max-rows；其余见工作簿。例：--pdf-rows 50。"
                   "(most findings listed in the PDF, default --max-rows; the rest are in the workbook. Example: --pdf-rows 50.)")
@click.option("--no-pdf", "no_pdf", is_flag=True, help="只写工作簿，不写 PDF。(workbooks only, no PDF.)")
@click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR",
              help="证据字段名称取自此规则目录，默认为自带的 rules/。(rules directory naming the evidence; default: the bundled rules/.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
def notices_command(run_dir: str, out: str | None, departments: tuple[str, ...], max_rows: int, pdf_rows: int | None, no_pdf: bool,
                    rules_dir: str | None, lang: str) -> None:
    """为每个主管部门写出整改通知（工作簿与 PDF）。Write a rectification notice per department (workbook and PDF).

    读取 nightly 运行目录中的 findings.jsonl、findings.csv 与 summary.json；每个部门一个 .xlsx 和一个 .pdf，
    发现超过 --max-rows 的部门另有一个列出全部发现的 .csv。
    Reads a nightly run folder; one .xlsx and one .pdf per department, and a .csv with all of its findings
    for a department with more than --max-rows.

    \b
    示例 Examples:
      perfrules notices /data/runs/2026-11-21
      perfrules notices /data/runs/2026-11-21 --department 县水利局 --out /tmp/水利局通知
      perfrules notices /data/runs/2026-11-21 --max-rows 5000 --pdf-rows 50
    """
    remember_lang(lang)
    from perfrules.api import default_rules_dir
    from perfrules.findings.model import evidence_labels
    from perfrules.outputs.notices import NOTICES, notices_of, read_run_findings, write_notices
    from perfrules.rulepack.pack import load_pack

    findings, summary = read_run_findings(run_dir)
    known = {n.department for n in notices_of(findings, 1)}
    unknown = [d for d in departments if d not in known]
    if unknown:
        zh_known, en_known = "、".join(sorted(known)) or "无", ", ".join(sorted(known)) or "none"
        raise UsageError([Problem("notices.unknown-department", f"本次运行没有主管部门 {'、'.join(unknown)} 的发现。",
                                  f"the run has no findings of department {', '.join(unknown)}.", Where(file=str(run_dir)),
                                  f"有发现的部门：{zh_known}", f"departments with findings: {en_known}")])
    labels = evidence_labels(load_pack(rules_dir or default_rules_dir()), lang)
    target = Path(out) if out else Path(run_dir) / NOTICES
    ours = holds_our_notices(target, Path(run_dir))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        os.chmod(tmp, public_mode(directory=True))  # mkdtemp's folder is private; nightly's notices are not
        (tmp / MARKER).write_text("perfrules notices\n", encoding="utf-8")
        written = write_notices(tmp, findings, summary, lang, labels, max_rows, pdf=not no_pdf,
                                departments=set(departments) or None, pdf_rows=pdf_rows)
        if departments and ours:  # the other departments' notices (and files not rewritten) stay
            for kept in target.iterdir():
                if not (tmp / kept.name).exists():
                    shutil.copy2(kept, tmp / kept.name)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.replace(old / target.name)
            tmp.replace(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.replace(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    count = len({p.stem for p in written})
    click.echo((f"已写出 {count} 个部门的整改通知 → {target}" if lang != "en" else f"{count} notice(s) written → {target}"), err=True)
    for path in written:
        click.echo(str(target / path.name))


MARKER = ".perfrules-notices"  # in a folder ``perfrules notices`` wrote, so that it may write it again


def holds_our_notices(target: Path, run_dir: Path) -> bool:
    """Whether ``target`` holds notices perfrules wrote (its run's notices folder, or a folder with our marker);
    False when it does not exist or is empty. Anything else is refused: it is not ours to replace."""
    from perfrules.nightly.run import is_run_dir
    from perfrules.outputs.notices import NOTICES

    if not os.path.lexists(target):
        return False
    if not target.is_symlink() and target.is_dir():
        if not any(target.iterdir()):
            return False
        if (target / MARKER).is_file() or (target.resolve() == (run_dir / NOTICES).resolve() and is_run_dir(run_dir)):
            return True
    raise UsageError([Problem("notices.out-refused", f"{target} 已存在，且不是 perfrules 写出的通知目录；不会替换它。",
                              f"{target} exists and is not a notices folder perfrules wrote; it will not be replaced.",
                              Where(file=str(target)), "请用 --out 指定一个新的或空的目录。",
                              "Give --out a new or empty folder.")])
