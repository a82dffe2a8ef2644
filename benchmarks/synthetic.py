"""Synthetic budget projects with realistic rates: most compliant, a few percent violating each rule.

Seeded, so every run (and both backends) sees the same records.
"""

from __future__ import annotations

import random
from typing import Any

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
