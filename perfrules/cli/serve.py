"""``serve`` (the HTTP decision service) and ``decisions`` (read its decision log)."""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path

import click

from perfrules.cli.options import remember_lang
from perfrules.errors import Problem, UsageError
from perfrules.rulepack.pack import default_rules_dir

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@click.command(name="serve")
@click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR", help="规则目录，默认为自带的 rules/。(rules directory; default: the bundled rules/.)")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址；默认只监听本机。(address to listen on; loopback by default.)")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="端口；0 表示任选空闲端口。(port; 0 picks a free one.)")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="工作进程数。(worker processes.)")
@click.option("--token-file", type=click.Path(dir_okay=False), help="令牌文件：每行“令牌”或“令牌 admin”。(bearer tokens, one per line, 'TOKEN' or 'TOKEN admin'.)")
@click.option("--decision-log", type=click.Path(file_okay=False), metavar="DIR", help="决策日志目录（每日一个 JSONL 文件）。(decision log folder, one JSONL file per day.)")
@click.option("--log-inputs", is_flag=True, help="决策日志中记录提交内容本身（默认只记哈希）。(log the submissions themselves, not only their hash.)")
@click.option("--max-body", default=1_048_576, show_default=True, type=click.IntRange(1), metavar="BYTES", help="请求体上限。(request body limit.)")
@click.option("--max-batch", default=100, show_default=True, type=click.IntRange(1), metavar="N", help="批量请求条目上限。(batch item limit.)")
@click.option("--header-timeout", default=20.0, show_default=True, type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="连接打开或上一个响应后，须在此时间内收到完整的请求头，否则关闭连接。(a connection is closed when its request head is not complete this long after it opened or after its last response.)")
@click.option("--state-dir", type=click.Path(file_okay=False), metavar="DIR", help="工作进程共享的状态目录（已发布规则包、指标）；默认临时目录。(shared state: published packs, metrics; default a temporary folder.)")
@click.option("--reload-timeout", default=120.0, show_default=True, type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="重新加载时检查规则包的时限；超时则放弃，旧版本继续服务。(time limit for checking a reloaded pack; past it the reload is rejected and the old revision keeps serving.)")
@click.option("--graceful-timeout", default=30.0, show_default=True, type=click.FloatRange(0), metavar="SECONDS", help="停止时等待进行中请求的时间。(time to finish requests in flight on stop.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="启动与错误消息的语言；响应语言由请求的 lang 参数决定。(language of start-up and error messages; a response is in its request's lang.)")
def serve_command(rules_dir: str | None, host: str, port: int, workers: int, token_file: str | None, decision_log: str | None,
                  log_inputs: bool, max_body: int, max_batch: int, header_timeout: float, state_dir: str | None, reload_timeout: float, graceful_timeout: float,
                  lang: str) -> None:
    """以 HTTP 服务提供审核前筛查。Serve pre-approval screening over HTTP (POST /v1/screen).

    SIGHUP 或 POST /v1/admin/reload 重新加载规则（未通过检查的规则包不会替换正在使用的）；SIGTERM 处理完进行中的请求后停止。
    SIGHUP or POST /v1/admin/reload reloads the rules (a pack that fails its checks never replaces the running one);
    SIGTERM finishes the requests in flight, then stops.

    \b
    示例 Example:
      perfrules serve --port 8080 --workers 2 --decision-log decisions/
      curl -s -X POST localhost:8080/v1/screen -H 'Content-Type: application/json' \\
           --data @samples/submissions/p02-goal-rejected.json
    """
    remember_lang(lang)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError([Problem("serve.not-installed", f"缺少服务所需的包（{exc.name}）：请安装 perfrules[serve]。",
                                  f"the service needs {exc.name}: install perfrules[serve].")]) from exc
    from perfrules.service.auth import load_tokens
    from perfrules.service.config import ServiceConfig
    from perfrules.service.decision_log import check_writable
    from perfrules.service.supervisor import Supervisor

    if token_file:
        load_tokens(token_file)  # a bad token file is an error now, before any worker starts
    elif host not in LOOPBACK:
        click.echo(f"警告：在 {host} 上监听且未设 --token-file，任何能连到此地址的人都可调用。"
                   f"(warning: listening on {host} without --token-file: anyone who can reach it may call it.)", err=True)
    if decision_log:
        check_writable(decision_log)  # as is a decision log it cannot write
    temporary = state_dir is None
    state = state_dir or tempfile.mkdtemp(prefix="perfrules-serve-")
    Path(state).mkdir(parents=True, exist_ok=True)
    config = ServiceConfig(rules_dir=str(rules_dir or default_rules_dir()), state_dir=str(Path(state).resolve()),
                           token_file=str(Path(token_file).resolve()) if token_file else None,
                           decision_log=str(Path(decision_log).resolve()) if decision_log else None,
                           log_inputs=log_inputs, max_body=max_body, max_batch=max_batch, header_timeout_seconds=header_timeout,
                           reload_timeout_seconds=reload_timeout)
    Supervisor(config, host, port, workers, graceful_timeout, remove_state=temporary).run()


VERDICT_WORDS = {"pass": "pass", "rectify": "rectify", "reject": "reject", "通过": "pass", "需整改": "rectify", "不予通过": "reject"}
_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    m = _RELATIVE.match(value.strip())
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return dt.datetime.now().astimezone() - dt.timedelta(**{unit: int(m.group(1))})
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"须为日期、日期时间或 30m/2h/7d，实际为 {value!r}。(must be a date, a date-time or 30m/2h/7d, got {value!r}.)") from None
    return when if when.tzinfo else when.astimezone()


@click.command(name="decisions")
@click.option("--log", "log_dir", default="decisions", show_default=True, envvar="PERFRULES_DECISION_LOG", type=click.Path(), metavar="DIR",
              help="决策日志目录（serve --decision-log；或环境变量 PERFRULES_DECISION_LOG）。(the decision log folder, or $PERFRULES_DECISION_LOG.)")
@click.option("--since", callback=_when, metavar="WHEN", help="起始时间：2026-12-01、2026-12-01T08:00 或 30m/2h/7d。(from: a date, date-time, or 30m/2h/7d ago.)")
@click.option("--until", callback=_when, metavar="WHEN", help="截止时间（不含）。(until, exclusive.)")
@click.option("--verdict", type=click.Choice(list(VERDICT_WORDS)), help="只看此结论。(only this verdict.)")
@click.option("--profile", metavar="NAME", help="只看此配置。(only this profile.)")
@click.option("--rule", "rule_id", metavar="RULE_ID", help="只看有此规则发现的决策。(only decisions with a finding of this rule.)")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True,
              help="输出格式：table 或 jsonl（原样的日志行）。(output format: table, or jsonl: the log lines as they are.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
def decisions_command(log_dir: str, since: dt.datetime | None, until: dt.datetime | None, verdict: str | None, profile: str | None,
                      rule_id: str | None, fmt: str, lang: str) -> None:
    """查询服务的决策日志。Read the service's decision log.

    \b
    示例 Example:
      perfrules decisions --log decisions/ --since 2026-12-01 --verdict reject
    """
    remember_lang(lang)
    from perfrules.evaluation.screening import VERDICTS
    from perfrules.service.decision_log import DecisionFilter, read_decisions

    selection = DecisionFilter(since, until, VERDICT_WORDS[verdict] if verdict else None, profile, rule_id)
    count = 0
    for record in read_decisions(log_dir, selection):
        count += 1
        if fmt == "jsonl":
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        word = VERDICTS.get(record.get("verdict", ""), (record.get("verdict"), record.get("verdict")))[0 if lang != "en" else 1]
        click.echo(f"{record['time']}  {word}  {record.get('profile')}  {record.get('pack_revision')}  "
                   f"{','.join(record.get('rule_ids', [])) or '—'}  {record['decision_id']}")
    if fmt == "table":
        click.echo(f"共 {count} 条决策。" if lang != "en" else f"{count} decision(s).", err=True)
