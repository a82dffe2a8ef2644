"""``perfrules map-check`` says a rule cannot run exactly when ``perfrules check`` skips it with PF-D03-ABSENT.

On the FASP2 sample and on variants of it, both run as the program people use (a subprocess): the rules
map-check reports blocked, with what they lack and how many records they leave undecided, are the rules of
check's PF-D03-ABSENT findings, with their ``absent`` and ``records``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_column_map_cli import FASP2, perfrules

# The fields the FASP2 sample has no column for (samples/exports/fasp2-2022 README and maps/fasp2.yaml), each
# read by one rule in force under the qitai profile with nothing else to go on: these rules cannot decide.
UNMAPPED = {
    "PF-E02-NOEXPLANATION": (["projects.prior_goals_met"], 4),
    "PF-E04-GOALPUBLISH": (["projects.goal_published"], 6),
    "PF-E04-RESULTPUBLISH": (["projects.prior_published"], 4),
    "PF-M04-IDLEFUNDS": (["projects.carryover_years"], 7),
    "PF-P06-EXANTEINSUFFICIENT": (["projects.ex_ante_conclusion"], 1),
    "PF-P11-RECTIFICATION": (["projects.prior_rectification"], 1),
    "PF-P14-MULTIYEARGOAL": (["projects.goal_multi_year"], 1),
    # FASP2's performance module exports no departments table: qitai's four department-level rules cannot decide
    # the five department records (主管部门 × 预算年度) the seven projects name (catalogue round 2).
    **dict.fromkeys(["PF-P16-DEPTASPECTS", "PF-M07-DEPTMIDYEAR", "PF-E07-DEPTSELFEVAL", "PF-E11-DEPTBUDGETLINK"], (["departments"], 5)),
}
# Without the payments table nothing says what the seven projects paid (paid = the payments' sum, else
# paid_to_date, which the sample does not have either).
UNPAID = (["payments", "projects.paid_to_date"], 7)


def sample_without(tmp_path: Path, *files: str) -> Path:
    export = tmp_path / "fasp2-2022"
    shutil.copytree(FASP2, export)
    for name in files:
        (export / name).unlink()
    return export


def map_check_blocked(report: dict) -> dict[str, tuple[list[str], int]]:
    """rule → (what it lacks as "table.field" or "table", records undecided), from map-check's JSON."""
    lacks: dict[str, list[str]] = {}
    records: dict[str, set[int]] = {}
    for t in report["tables"]:
        for rule, items in t["rules_blocked"].items():
            lacks.setdefault(rule, []).extend(x if x == t["table"] else f"{t['table']}.{x}" for x in items)
            records.setdefault(rule, set()).add(t["records_undecided"][rule])
    assert all(len(n) == 1 for n in records.values()), records  # a rule's count is the same under each table it lacks
    return {rule: (sorted(lacks[rule]), records[rule].pop()) for rule in lacks}


def check_absent(findings: list[dict]) -> dict[str, tuple[list[str], int]]:
    """rule → (what the input lacks for it, records undecided), from check's PF-D03-ABSENT findings."""
    absent = [f["evidence"] for f in findings if f["rule_id"] == "PF-D03-ABSENT"]
    assert len({e["rule"] for e in absent}) == len(absent)  # one finding per rule
    return {e["rule"]: (sorted(e["absent"]), e["records"]) for e in absent}


def run_both(export: Path, *options: str) -> tuple[dict, list[dict]]:
    mapped = perfrules("map-check", export, "--map", "fasp2", "--format", "json", *options)
    checked = perfrules("check", export, "--map", "fasp2", "--format", "json", "--fail-on", "never", *options)
    assert mapped.returncode == 1, mapped.stderr  # some rules in force cannot run
    assert checked.returncode == 0, checked.stderr
    return json.loads(mapped.stdout), json.loads(checked.stdout)["findings"]


def test_rules_fed_by_the_payments_table_or_by_missing_rules_are_not_blocked_on_the_sample():
    report, findings = run_both(FASP2)
    assert map_check_blocked(report) == check_absent(findings) == UNMAPPED
    projects = next(t for t in report["tables"] if t["table"] == "projects")
    # Lacking as columns, yet no obstacle: paid is summed from PAY_VOUCHER_BILL, and PF-M07-MONTHLY counts
    # from January when no approval date is given (missing(budget_approved_on)).
    assert {"paid_to_date", "budget_approved_on"} <= set(projects["missing"])
    fired = {f["rule_id"] for f in findings}
    assert {"PF-M01-MIDYEAR", "PF-M02-ZEROPAID", "PF-M07-MONTHLY"} <= fired
    assert report["profile"] == "qitai" and report["as_of"] == "2022-10-31"


def test_without_the_payments_table_the_rules_reading_paid_are_blocked(tmp_path):
    report, findings = run_both(sample_without(tmp_path, "PAY_VOUCHER_BILL.csv"))
    expected = UNMAPPED | {"PF-M01-MIDYEAR": UNPAID, "PF-M02-ZEROPAID": UNPAID}
    assert map_check_blocked(report) == check_absent(findings) == expected
    payments = next(t for t in report["tables"] if t["table"] == "payments")
    assert not payments["present"] and set(payments["rules_blocked"]) == {"PF-M01-MIDYEAR", "PF-M02-ZEROPAID"}
    assert not {"PF-M01-MIDYEAR", "PF-M02-ZEROPAID"} & {f["rule_id"] for f in findings}


@pytest.mark.parametrize("without, blocked_by_paid", [
    ((), {}),
    (("PAY_VOUCHER_BILL.csv",), {"PF-M01-MIDYEAR": UNPAID, "PF-M02-ZEROPAID": UNPAID, "PF-M03-RECOVERY": UNPAID}),
])
def test_after_the_recovery_checkpoint_the_recovery_rule_is_blocked_too_without_payments(tmp_path, without, blocked_by_paid):
    # On 2022-10-31 PF-M03-RECOVERY is decided (false) before its 11-30 checkpoint whatever was paid; at year end
    # it needs paid like PF-M01 and PF-M02.
    report, findings = run_both(sample_without(tmp_path, *without), "--as-of", "2022-12-31")
    assert map_check_blocked(report) == check_absent(findings) == UNMAPPED | blocked_by_paid


def test_the_text_report_names_what_each_blocked_rule_lacks(tmp_path):
    export = sample_without(tmp_path, "PAY_VOUCHER_BILL.csv")
    proc = perfrules("map-check", export, "--lang", "en")  # the manifest names the map
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "  cannot run PF-M01-MIDYEAR: lacks paid_to_date" in lines
    assert "  cannot run PF-M01-MIDYEAR: lacks payments" in lines
    assert "rules in force that cannot run: 13; unreadable values: 0" in lines  # 9, and the 4 department rules
    assert "  cannot run PF-P16-DEPTASPECTS: lacks departments" in lines
    zh = perfrules("map-check", FASP2).stdout.splitlines()
    assert "  无法运行 PF-M04-IDLEFUNDS: 缺少 carryover_years" in zh
    assert not any("PF-M01-MIDYEAR" in line or "PF-M07-MONTHLY" in line for line in zh)
