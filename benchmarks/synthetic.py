"""Synthetic budget projects with realistic rates: most compliant, a few percent violating each rule.

Seeded, so every run (and both backends) sees the same records.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

BOOKS = ["一般公共预算", "政府性基金预算", "国有资本经营预算", "社会保险基金预算"]
GRADES = ["优", "良", "良", "良", "中", "一般", "差", "较差", "优秀", "良好"]
DEPARTMENTS = ["县水利局", "县教育局", "县卫生健康委", "县农业农村局", "县交通运输局", "县民政局", "县财政局", "县文旅局"]


def project(i: int, rnd: random.Random) -> dict[str, Any]:
    """One project submission (nested, as a budget unit submits it)."""
    p = lambda rate: rnd.random() < rate  # noqa: E731 - "this record violates with probability rate"
    budget = rnd.choice([80_000, 200_000, 450_000, 500_000, 800_000, 1_200_000, 3_000_000])
    prior_amount = budget * rnd.choice([0.8, 1.0, 1.1])
    paid = budget * (0 if p(0.03) else rnd.uniform(0.2, 0.95) if p(0.1) else rnd.uniform(0.55, 0.98))
    grade = rnd.choice(GRADES)
    score = {"优": 93, "优秀": 95, "良": 85, "良好": 84, "中": 72, "一般": 70, "差": 52, "较差": 50}[grade]
    indicators = [
        {"level1": "产出指标", "level2": "数量指标", "name": "完成数量", "target": "≥1项", "target_value": 1},
        {"level1": "效益指标", "level2": "社会效益指标", "name": "受益人数", "target": "≥1000人", "target_value": 1000},
    ]
    if p(0.03):
        indicators = indicators[:1]
    if p(0.02):
        indicators = [{**x, "target_value": None, "target": "逐步提高"} for x in indicators]
    is_new = p(0.2)
    return {
        "project_id": f"SIM-{i:07d}", "project_name": f"模拟项目{i}", "fiscal_year": 2022,
        "department": rnd.choice(DEPARTMENTS), "unit": "模拟单位", "kind": "项目",
        "expense_category": "其他" if p(0.01) else rnd.choice(["人员类", "运转类", "特定目标类"]),
        "budget_type": "专项资金" if p(0.01) else rnd.choice(BOOKS),
        "funding_sources": ["专项资金", "PPP"] if p(0.03) else ["专项资金"],
        "amount": budget, "prior_year_amount": prior_amount, "is_new": is_new, "is_major": p(0.1),
        "start_date": "2022-01-01", "end_date": "2021-12-31" if p(0.01) else ("2024-12-31" if p(0.05) else "2022-12-31"),
        "responsible_person": None if p(0.03) else "负责人",
        "performance_goal": None if p(0.02) else {
            "review_status": "未通过" if p(0.02) else "通过", "multi_year": p(0.5), "published": not p(0.03),
            "indicators": indicators},
        "ex_ante_assessment": None if (is_new and p(0.1)) else {"report_id": "R", "conclusion": "退回" if p(0.02) else "通过"},
        "prior_evaluation": None if is_new else {
            "year": 2021, "self_evaluated": not p(0.03), "score": score if not p(0.02) else 88, "grade": grade,
            "goals_met": not p(0.05), "explanation": "已说明" if not p(0.02) else None,
            "rectification": "未完成" if p(0.03) else "无需", "published": not p(0.05)},
        "evaluation_history": [{"year": 2020, "grade": rnd.choice(GRADES), "score": 80}],
        "execution": {"budget": budget, "paid_to_date": round(paid, 2), "carryover_years": 2 if p(0.01) else 0,
                      "ppp_subsidy_paid": 0},
        "monitoring": [{"month": f"2022-{m:02d}", "goal_deviation": p(0.005), "poor_execution": False,
                        "serious_problem": p(0.001)} for m in range(1, 10)],
    }


def projects(n: int, seed: int = 20221031) -> list[dict[str, Any]]:
    """``n`` project submissions."""
    rnd = random.Random(seed)
    return [project(i, rnd) for i in range(n)]


# ---- a nightly export at scale, generated column-wise with numpy -------------------------------

EXPORT_AS_OF = "2022-11-15"
GRADE_WEIGHTS = {"优": 0.05, "良": 0.87, "中": 0.03, "一般": 0.02, "差": 0.02, "较差": 0.01}
GRADE_SCORE = {"优": 93.0, "良": 85.0, "中": 72.0, "一般": 70.0, "差": 52.0, "较差": 50.0}


def export_tables(n: int, seed: int = 20221115, indicators: int = 5, payments: int = 6,
                  evaluations: int = 2) -> dict[str, pd.DataFrame]:
    """A budget system's export of ``n`` projects (fiscal year 2022) under catalogue column names.

    Per project: ``indicators`` indicator rows, ``payments`` payment rows, one monitoring row and
    ``evaluations`` evaluation rows (the years before). Most projects are compliant; each rule's
    violation is a few percent, independently drawn.
    """
    import numpy as np
    import pandas as pd

    g = np.random.default_rng(seed)
    p = lambda rate, size=n: g.random(size) < rate  # noqa: E731 - "violates with probability rate"
    ids = pd.array([f"SIM-{i:07d}" for i in range(n)], dtype="string")
    dept_names = np.array([f"第{d:03d}部门" for d in range(200)], dtype=object)
    dept = dept_names[g.integers(0, 200, n)]
    amount = g.choice([80_000, 200_000, 450_000, 500_000, 800_000, 1_200_000, 3_000_000], n).astype(float)
    is_new = p(0.2)
    ex_ante_missing = is_new & p(0.1)
    has_goal = ~p(0.02)
    paid_share = np.where(p(0.03), 0.0, np.where(p(0.1), g.uniform(0.2, 0.95, n), g.uniform(0.55, 0.98, n)))
    projects = pd.DataFrame({
        "project_id": ids, "project_name": [f"模拟项目{i}" for i in range(n)], "fiscal_year": 2022,
        "department": dept, "unit": dept + "本级", "kind": "项目",
        "expense_category": np.where(p(0.01), "其他", g.choice(["人员类", "运转类", "特定目标类"], n)),
        "budget_type": np.where(p(0.01), "专项资金", g.choice(BOOKS, n)),
        "funding_sources": np.where(p(0.03), "专项资金、PPP", "专项资金"),
        "amount": amount, "prior_year_amount": amount * g.choice([0.8, 1.0, 1.1], n),
        "is_new": is_new, "is_major": p(0.1),
        "start_date": np.datetime64("2022-01-01"),
        "end_date": np.where(p(0.01), np.datetime64("2021-12-31"),
                             np.where(p(0.05), np.datetime64("2024-12-31"), np.datetime64("2022-12-31"))),
        "responsible_person": np.where(p(0.03), None, "负责人"),
        "has_goal": has_goal,
        "goal_review_status": np.where(has_goal, np.where(p(0.02), "未通过", "通过"), None),
        "goal_multi_year": p(0.5), "goal_published": ~p(0.03),
        "ex_ante_report_id": np.where(ex_ante_missing, None, np.where(is_new, "PG-2022", None)),
        "ex_ante_conclusion": np.where(is_new & ~ex_ante_missing, np.where(p(0.02), "退回", "通过"), None),
        "budget": amount, "carryover_years": np.where(p(0.01), 2, 0), "ppp_subsidy_paid": 0.0,
    })
    # Indicators: the first is an output indicator, the rest benefit ones; a few projects lack the
    # benefit indicators or give no targets.
    k = np.repeat(np.arange(n), indicators)
    slot = np.tile(np.arange(indicators), n)
    only_output = p(0.03)[k]
    no_targets = p(0.02)[k]
    ind = pd.DataFrame({
        "project_id": ids[k], "fiscal_year": 2022,
        "level1": np.where((slot == 0) | only_output, "产出指标", "效益指标"),
        "level2": np.where(slot == 0, "数量指标", "社会效益指标"),
        "name": np.where(slot == 0, "完成数量", "受益人数"),
        "target": np.where(no_targets, "逐步提高", np.where(slot == 0, "≥1项", "≥1000人")),
        "target_value": np.where(no_targets, np.nan, np.where(slot == 0, 1.0, 1000.0)),
        "unit": np.where(slot == 0, "项", "人"),
    })
    # Payments: the project's paid share spread over its first months.
    k = np.repeat(np.arange(n), payments)
    slot = np.tile(np.arange(payments), n)
    pay = pd.DataFrame({
        "project_id": ids[k], "fiscal_year": 2022,
        "date": np.datetime64("2022-01-15") + (slot * 30).astype("timedelta64[D]"),
        "amount": np.round(amount[k] * paid_share[k] / payments, 2),
    })
    mon = pd.DataFrame({
        "project_id": ids, "fiscal_year": 2022, "month": np.datetime64("2022-09-01"),
        "goal_deviation": p(0.005), "poor_execution": False, "serious_problem": p(0.001), "note": None,
    })
    # Evaluations of the years before; the latest is the prior year's result.
    k = np.repeat(np.arange(n), evaluations)
    year = 2021 - np.tile(np.arange(evaluations), n)
    grades = np.array(list(GRADE_WEIGHTS), dtype=object)
    grade = g.choice(grades, len(k), p=list(GRADE_WEIGHTS.values()))
    score = np.vectorize(GRADE_SCORE.get, otypes=[float])(grade)
    score = np.where(p(0.02, len(k)), 88.0, score)
    ev = pd.DataFrame({
        "project_id": ids[k], "year": year, "grade": grade, "score": score,
        "self_evaluated": ~p(0.03, len(k)), "evaluator": "单位自评", "goals_met": ~p(0.05, len(k)),
        "explanation": np.where(p(0.02, len(k)), None, "已说明"),
        "rectification": np.where(p(0.03, len(k)), "未完成", "无需"), "published": ~p(0.05, len(k)),
    })
    return {"projects": projects, "indicators": ind, "payments": pay, "monitoring": mon, "evaluations": ev}


def write_export(tables: dict[str, pd.DataFrame], folder: Path, fmt: str) -> None:
    """Write tables as a budget system would: Chinese file names and headers; CSV projects in GBK."""
    from perfrules.language.fields import TABLES

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(f"as_of: {EXPORT_AS_OF}\n", encoding="utf-8")
    for name, frame in tables.items():
        table = TABLES[name]
        out = frame.rename(columns={c.name: c.zh for c in table.columns})
        path = folder / f"{table.zh}.{fmt}"
        if fmt == "parquet":
            out.to_parquet(path, index=False)
        else:
            out.to_csv(path, index=False, encoding="gb18030" if name == "projects" else "utf-8-sig",
                       date_format="%Y-%m-%d")
