"""Build samples/exports/<profile>-2022: one export folder per jurisdiction profile.

Each folder holds the same kind of county export: complete, otherwise compliant records plus a few
that exercise exactly what that profile's document says differently. Checked under `national` and
under the profile, the same data gives different findings; each manifest.yaml says which
(`about`, `expect`), and tests/test_samples.py checks them. Run: python samples/exports/build_profile_exports.py
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import yaml

from perfrules.language.fields import TABLES

HERE = Path(__file__).resolve().parent
AS_OF = "2022-10-15"
SIX = "运行成本、管理效率、履职效能、社会效应、可持续发展能力、服务对象满意度"


def project(pid: str, jurisdiction: str, **over: object) -> dict:
    row = {
        "project_id": pid, "project_name": "项目" + pid, "fiscal_year": 2022, "jurisdiction": jurisdiction,
        "department": "县财政局", "unit": "县财政局机关", "kind": "项目", "expense_category": "特定目标类",
        "budget_type": "一般公共预算", "funding_sources": "专项资金", "amount": 900000, "prior_year_amount": 1000000,
        "is_new": "否", "is_major": "否", "start_date": "2022-01-01", "end_date": "2022-12-31", "responsible_person": "李明",
        "has_goal": "是", "goal_review_status": "通过", "goal_multi_year": "否", "goal_published": "是",
        "ex_ante_report_id": "", "ex_ante_conclusion": "", "prior_year": 2021, "prior_self_evaluated": "是",
        "prior_score": 85, "prior_grade": "良", "prior_evaluator": "单位自评", "prior_goals_met": "是",
        "prior_explanation": "", "prior_rectification": "无需", "prior_published": "是",
        "budget": 900000, "paid_to_date": 600000, "carryover_years": 0, "ppp_subsidy_paid": 0,
    }
    row.update(over)
    return row


# What each profile's document says differently, as records. Grade/score pairs agree with the bands
# (优 ≥ 90, 良 80–<90, 中 60–<80, 差 < 60) unless a record is about exactly that.
FOLDERS = {
    "sheyang": {
        "about": "射阳把“低”作为独立等级：财政重点评价评为“低”、得分 65 的项目（SY-A02），全国基线把低折算为差，与得分所在的“中”档"
                 "不符（E05 警告）；射阳不折算，E05 不适用。两者都因“低或差”要求调减（P08 警告）。射阳只据财政重点评价的结果调减"
                 "（（八）“对镇级财政重点绩效评价结果为低或差的”）：单位自评为“差”的 SY-A03 在全国基线调减（P08），在射阳不调减。",
        "projects": [project("SY-A01", "sheyang"),
                     project("SY-A02", "sheyang", prior_grade="低", prior_score=65, prior_published="是", prior_evaluator="财政重点评价"),
                     project("SY-A03", "sheyang", prior_grade="差", prior_score=55, prior_published="是", prior_evaluator="单位自评")],
        "expect": {"national": [("PF-P08-POORGRADE", "SY-A02", "警告"), ("PF-E05-GRADESCORE", "SY-A02", "警告"),
                                ("PF-P08-POORGRADE", "SY-A03", "警告")],
                   "sheyang": [("PF-P08-POORGRADE", "SY-A02", "警告")]},
    },
    "nanchang-gaoxin": {
        "about": "南昌高新区：上年评价“一般”须调减预算（P08，全国基线只督促改进 P09 提示）；重大项目须有责任人（P15）；"
                 "PPP 项目须按绩效评价结果付费（E06）。",
        "projects": [project("NC-A01", "nanchang-gaoxin"),
                     project("NC-A02", "nanchang-gaoxin", prior_grade="一般", prior_score=70),
                     project("NC-A03", "nanchang-gaoxin", is_major="是", responsible_person=""),
                     project("NC-A04", "nanchang-gaoxin", funding_sources="专项资金、PPP", ppp_subsidy_paid=300000,
                             prior_year="", prior_grade="", prior_score="", prior_self_evaluated="", prior_evaluator="",
                             prior_goals_met="", prior_rectification="", prior_published="", is_new="是",
                             ex_ante_report_id="SQPG-2021-101", ex_ante_conclusion="通过")],
        "expect": {"national": [("PF-P09-AVERAGEGRADE", "NC-A02", "提示")],
                   "nanchang-gaoxin": [("PF-P08-POORGRADE", "NC-A02", "警告"), ("PF-P15-NORESPONSIBLE", "NC-A03", "警告"),
                                       ("PF-E06-PPP", "NC-A04", "警告"),
                                       ("PF-D03-ABSENT", None, "警告")]},  # E11 needs the departments table this export lacks
    },
    "qitai": {
        "about": "奇台：按月报送双监控结果（QT-A02 缺 8、9 月，M07 提示）；部门整体目标须覆盖六个方面（县文旅局缺两项，P16）；"
                 "6月底须开展部门整体年中监控（县文旅局未开展）。全国基线下三者都不检查。",
        "projects": [project("QT-A01", "qitai"), project("QT-A02", "qitai", department="县文旅局")],
        "months": {"QT-A02": range(1, 8)},
        "departments": [{"department": "县财政局", "fiscal_year": 2022, "jurisdiction": "qitai", "aspects": SIX, "mid_year_monitored": "是"},
                        {"department": "县文旅局", "fiscal_year": 2022, "jurisdiction": "qitai",
                         "aspects": "运行成本、管理效率、履职效能、社会效应", "mid_year_monitored": "否"}],
        "expect": {"national": [],
                   "qitai": [("PF-M07-MONTHLY", "QT-A02", "提示"), ("PF-P16-DEPTASPECTS", "县文旅局", "警告"),
                             ("PF-M07-DEPTMIDYEAR", "县文旅局", "警告")]},
    },
    "tongxin": {
        "about": "同心：上年度未开展绩效自评的延续项目一律不予安排预算（TX-A02，P07 阻断）；全国基线不设此规则。",
        "projects": [project("TX-A01", "tongxin"), project("TX-A02", "tongxin", prior_self_evaluated="否")],
        "expect": {"national": [], "tongxin": [("PF-P07-NOSELFEVAL", "TX-A02", "阻断")]},
    },
    "yongqiao": {
        "about": "埇桥：区级新增政策和项目 50万元及以上须事前绩效评估——恰为 50万元者触发（YQ-A02，P05 阻断），49.99万元者不触发"
                 "（YQ-A03）。埇桥的门槛与全国基线默认值相同，故两者结果一致；基线默认值改变时埇桥仍按 50万元（见 tests/test_profiles.py）。",
        "projects": [project("YQ-A01", "yongqiao"),
                     project("YQ-A02", "yongqiao", is_new="是", amount="50万元", budget=500000, paid_to_date=300000),
                     project("YQ-A03", "yongqiao", is_new="是", amount="49.99万", budget=499900, paid_to_date=300000)],
        "expect": {"national": [("PF-P05-EXANTE", "YQ-A02", "阻断")],
                   "yongqiao": [("PF-P05-EXANTE", "YQ-A02", "阻断"),
                                ("PF-D03-ABSENT", None, "警告")]},  # E07 needs the departments table this export lacks
    },
}


def write_csv(path: Path, table: str, rows: list[dict], encoding: str = "utf-8-sig") -> None:
    cols = [c for c in TABLES[table].columns if any(c.name in r for r in rows)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.zh for c in cols])
    for r in rows:
        w.writerow(["" if r.get(c.name) is None else r.get(c.name) for c in cols])
    path.write_bytes(buf.getvalue().encode(encoding))


def build(name: str, spec: dict) -> None:
    out = HERE / f"{name}-2022"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    projects = spec["projects"]
    write_csv(out / "项目.csv", "projects", projects, "gbk" if name in ("qitai", "tongxin") else "utf-8-sig")
    indicators, payments, monitoring, evaluations = [], [], [], []
    for p in projects:
        key = {"project_id": p["project_id"], "fiscal_year": 2022}
        indicators += [{**key, "level1": "产出指标", "level2": "数量指标", "name": "完成数量", "target": "≥1项", "target_value": 1, "unit": "项"},
                       {**key, "level1": "效益指标", "level2": "社会效益指标", "name": "受益人数", "target": "≥1000人", "target_value": 1000, "unit": "人"}]
        payments.append({**key, "date": "2022-05-20", "amount": p["paid_to_date"]})
        for m in spec.get("months", {}).get(p["project_id"], range(1, 10)):
            monitoring.append({**key, "month": f"2022-{m:02d}", "goal_deviation": "否", "poor_execution": "否", "serious_problem": "否"})
        if p.get("prior_grade"):
            evaluations.append({"project_id": p["project_id"], "year": 2021, "grade": p["prior_grade"], "score": p["prior_score"],
                                "self_evaluated": p["prior_self_evaluated"], "evaluator": p["prior_evaluator"],
                                "goals_met": p["prior_goals_met"], "rectification": p["prior_rectification"], "published": p["prior_published"]})
    write_csv(out / "绩效指标.csv", "indicators", indicators)
    write_csv(out / "支付明细.csv", "payments", payments)
    write_csv(out / "绩效监控.csv", "monitoring", monitoring)
    write_csv(out / "绩效评价.csv", "evaluations", evaluations)
    if spec.get("departments"):
        write_csv(out / "部门整体.csv", "departments", spec["departments"])
    expect = {prof: [dict(zip(("rule", "project_id" if not who.startswith("县") else "department", "severity"), (r, who, s)))
                     if who else {"rule": r, "severity": s} for r, who, s in items] for prof, items in spec["expect"].items()}
    manifest = {"as_of": AS_OF, "about": spec["about"], "expect": expect}
    (out / "manifest.yaml").write_text("# 导出清单：as_of 为数据所述日期；about/expect 说明本样例演示什么（tests/test_samples.py 核对）。\n"
                                       + yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    for name, spec in FOLDERS.items():
        build(name, spec)
