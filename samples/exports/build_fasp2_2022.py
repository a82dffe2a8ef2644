"""Build samples/exports/fasp2-2022: one county's projects as the FASP2 预算管理一体化 system exports them.

The same facts are written in two shapes from the one list below:

- ``fasp2`` (the committed sample): FASP2 table and column names (``BGT_PM_ANNUAL.csv`` with ``pro_code``,
  ``dept_code``, ``apply_up`` …), departments, units and the 财政区划 as codes with their code lists in
  ``代码表/``, flags as ``1``/``2`` (``is_deleted``), report timestamps as 17-digit text (``20220715000000000``),
  voucher dates as an Oracle DATE prints (``2022-03-15 00:00:00``), amounts in 元, and a manifest naming the map
  (``map: fasp2``). Fields the public FASP2 tables have no column for (是否新增, 是否重大, the implementation
  dates, …; see maps/fasp2.yaml) are added under perfrules' own Chinese headers, which every map still reads.
- ``perfrules``: perfrules' own Chinese headers and values (names, 是/否, ISO dates).

``perfrules check samples/exports/fasp2-2022 --map fasp2`` gives the same findings as the ``perfrules``
shape (tests/test_column_map_samples.py builds it and compares).

Run: python samples/exports/build_fasp2_2022.py [--shape fasp2|perfrules] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "fasp2-2022"
AS_OF = "2022-10-31"

DIVISIONS = {"652325": "qitai"}  # 财政区划代码 → perfrules profile
DEPARTMENTS = {"101": "县水利局", "102": "县交通运输局", "103": "县民政局", "104": "县农业农村局", "105": "县人力资源和社会保障局"}
UNITS = {"101001": "县供水站", "101002": "县河道管理所", "102001": "县公路站", "103001": "县养老服务中心",
         "104001": "县农技推广中心", "105001": "县就业服务中心"}
CATEGORY_CODES = {"人员类": "1", "运转类": "22", "特定目标类": "3"}

# One dict per project in contract terms (department and unit as codes; the writers turn them into what each shape shows).
PROJECTS = [
    # clean: a goal reviewed and passed, paid on schedule, a good evaluation last year
    dict(project_id="FX-001", project_name="农村饮水安全巩固提升", dept="101", agency="101001", category="特定目标类",
         amount=1_200_000, budget=1_200_000, is_new=False, is_major=False, start="2022-01-01", end="2022-12-31",
         has_goal=True, review="通过", prior_year_amount=1_000_000, ex_ante=""),
    # P01: no performance goal
    dict(project_id="FX-002", project_name="乡村道路养护", dept="102", agency="102001", category="特定目标类",
         amount=300_000, budget=300_000, is_new=False, is_major=False, start="2022-01-01", end="2022-12-31",
         has_goal=False, review="", prior_year_amount=300_000, ex_ante=""),
    # P05: new, 500万 and no ex-ante assessment report
    dict(project_id="FX-003", project_name="社区养老服务站建设", dept="103", agency="103001", category="特定目标类",
         amount=5_000_000, budget=5_000_000, is_new=True, is_major=False, start="2022-03-01", end="2023-02-28",
         has_goal=True, review="通过", prior_year_amount=None, ex_ante=""),
    # P08: graded 差 last year (self-evaluation score 55) and asks for as much as last year
    dict(project_id="FX-004", project_name="农业技术推广", dept="104", agency="104001", category="特定目标类",
         amount=800_000, budget=800_000, is_new=False, is_major=False, start="2022-01-01", end="2022-12-31",
         has_goal=True, review="通过", prior_year_amount=800_000, ex_ante=""),
    # M02: nothing paid by 31 October
    dict(project_id="FX-005", project_name="河道清淤", dept="101", agency="101002", category="特定目标类",
         amount=600_000, budget=600_000, is_new=False, is_major=False, start="2022-01-01", end="2022-12-31",
         has_goal=True, review="通过", prior_year_amount=600_000, ex_ante=""),
    # a major project over two years, with its ex-ante report
    dict(project_id="FX-006", project_name="灌区节水改造", dept="101", agency="101001", category="特定目标类",
         amount=3_000_000, budget=3_000_000, is_new=True, is_major=True, start="2022-03-01", end="2024-02-29",
         has_goal=True, review="通过", prior_year_amount=None, ex_ante="SQPG-2021-017"),
    # a personnel project (pro_kind_code 1)
    dict(project_id="FX-007", project_name="公益性岗位补贴", dept="105", agency="105001", category="人员类",
         amount=450_000, budget=450_000, is_new=False, is_major=False, start="2022-01-01", end="2022-12-31",
         has_goal=True, review="通过", prior_year_amount=450_000, ex_ante=""),
]
INDICATORS = [  # project, level1, level2, name, target, unit (指标数值, the number in the target, is added by _number)
    ("FX-001", "产出指标", "数量指标", "巩固提升供水工程", "≥12处", "处"),
    ("FX-001", "效益指标", "社会效益指标", "受益人口", "≥12000人", "人"),
    ("FX-001", "满意度指标", "服务对象满意度指标", "群众满意度", "≥90%", "%"),
    ("FX-003", "产出指标", "数量指标", "新建服务站", "3个", "个"),
    ("FX-004", "产出指标", "数量指标", "培训农户", "≥2000人次", "人次"),
    ("FX-004", "效益指标", "经济效益指标", "亩均增收", "≥200元", "元"),
    ("FX-005", "产出指标", "数量指标", "清淤河道长度", "≥35公里", "公里"),
    ("FX-005", "效益指标", "生态效益指标", "河道水质达标率", "≥95%", "%"),
    ("FX-006", "产出指标", "数量指标", "改造灌溉面积", "≥5万亩", "万亩"),
    ("FX-006", "效益指标", "经济效益指标", "年节水量", "≥300万立方米", "万立方米"),
    ("FX-007", "产出指标", "数量指标", "补贴岗位", "60个", "个"),
    ("FX-007", "效益指标", "社会效益指标", "带动就业困难人员", "≥60人", "人"),
]
PAYMENTS = [  # project, date, amount (元)
    ("FX-001", "2022-03-15", 300_000), ("FX-001", "2022-06-20", 400_000), ("FX-001", "2022-09-28", 300_000),
    ("FX-002", "2022-05-10", 150_000),
    ("FX-003", "2022-08-01", 1_000_000),
    ("FX-004", "2022-04-18", 200_000),
    ("FX-006", "2022-06-30", 900_000),
    ("FX-007", "2022-01-25", 37_500), ("FX-007", "2022-02-25", 37_500), ("FX-007", "2022-03-25", 37_500),
]
MONITORING = [  # project, report date, goal deviation, poor execution, serious problem
    ("FX-001", "2022-07-15", False, False, False),
    ("FX-003", "2022-07-15", False, True, False),
    ("FX-005", "2022-07-18", True, True, False),
    ("FX-006", "2022-07-20", False, False, False),
]
EVALUATIONS = [  # project, year evaluated, score, grade
    ("FX-001", 2021, 88, "良"), ("FX-004", 2021, 55, "差"), ("FX-005", 2021, 84, "良"), ("FX-007", 2021, 92, "优"),
]
YES_NO = {True: "是", False: "否"}


def _number(target: str) -> str:
    """The number a target's text states (``≥12000人`` → ``12000``): FASP2 keeps only the text, perfrules reads 指标数值."""
    return re.search(r"\d+(?:\.\d+)?", target).group(0)  # type: ignore[union-attr]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """A UTF-8 CSV (no BOM), every cell as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([["" if c is None else c for c in row] for row in rows])


def stamp(iso: str) -> str:
    """``2022-03-01`` as the 17-digit FASP2 timestamp ``20220301000000000``."""
    return dt.date.fromisoformat(iso).strftime("%Y%m%d") + "000000000"


def _extras(p: dict) -> list[object]:
    """Fields FASP2 has no column for, under perfrules' Chinese headers (the same text in both shapes)."""
    return [YES_NO[p["is_new"]], YES_NO[p["is_major"]], p["start"], p["end"],
            YES_NO[p["has_goal"]], p["review"], p["prior_year_amount"], p["ex_ante"], "一般公共预算", "项目"]


EXTRA_HEADERS = ["是否新增", "是否重大", "实施开始日期", "实施结束日期",
                 "是否设定绩效目标", "绩效目标审核状态", "上年预算金额(元)", "事前评估报告编号", "预算类型", "类型"]


def write_fasp2(out: Path) -> None:
    """The FASP2 shape (see the module docstring)."""
    code = next(iter(DIVISIONS))
    write_csv(out / "BGT_PM_ANNUAL.csv",
              ["mof_div_code", "fiscal_year", "agency_code", "dept_code", "pro_code", "pro_name", "pro_kind_code", "apply_up", "cur_amt",
               "is_deleted", *EXTRA_HEADERS],
              [[code, "2022", p["agency"], p["dept"], p["project_id"], p["project_name"], CATEGORY_CODES[p["category"]],
                f"{p['amount']:.2f}", f"{p['budget']:.2f}", "2", *_extras(p)] for p in PROJECTS])
    write_csv(out / "PM_PERF_INDICATOR.csv",
              ["mof_div_code", "fiscal_year", "pro_code", "kpi_lv1", "kpi_lv2", "kpi_content", "kpi_val", "meterunit", "kpi_evalstd", "指标数值"],
              [[code, "2022", pid, l1, l2, name, target, unit, "完成得满分，未完成按比例扣分", _number(target)]
               for pid, l1, l2, name, target, unit in INDICATORS])
    write_csv(out / "PAY_VOUCHER_BILL.csv", ["mof_div_code", "fiscal_year", "pro_code", "vou_date", "pay_amt"],
              [[code, "2022", pid, f"{date} 00:00:00", f"{amount:.2f}"] for pid, date, amount in PAYMENTS])
    write_csv(out / "PAY_PERF_MONITOR_INFO.csv",
              ["mof_div_code", "fiscal_year", "pro_code", "perf_send_date", "是否偏离绩效目标", "执行进度是否滞后", "是否存在严重问题"],
              [[code, "2022", pid, stamp(date), YES_NO[dev], YES_NO[poor], YES_NO[serious]] for pid, date, dev, poor, serious in MONITORING])
    write_csv(out / "PM_PERF_SELF_EVAL.csv", ["mof_div_code", "fiscal_year", "pro_code", "total_eval_value", "评价等级", "评价方式"],
              [[code, str(year), pid, f"{score:.6f}", grade, "单位自评"] for pid, year, score, grade in EVALUATIONS])
    write_csv(out / "代码表" / "财政区划.csv", ["mof_div_code", "profile"], [[k, v] for k, v in DIVISIONS.items()])
    write_csv(out / "代码表" / "部门.csv", ["dept_code", "dept_name"], [[k, v] for k, v in DEPARTMENTS.items()])
    write_csv(out / "代码表" / "单位.csv", ["agency_code", "agency_name"], [[k, v] for k, v in UNITS.items()])
    (out / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")


# What the sample must give (tests/test_samples.py checks it; samples/README.md shows it). The same under both shapes.
# M01: paid 20–30% of the budget by the as-of date, under the mid-year pace; M05: the July report flags a deviation or
# slow execution; FX-005 has no rows in the supplied payments table, so nothing is paid (M01 and M02 fire: supplied
# means complete); the seven PF-D03-ABSENT name projects fields that FASP2 has no column for (see maps/fasp2.yaml) and this
# sample does not add under a Chinese header either (prior_goals_met, goal_published, prior_published, carryover_years,
# ex_ante_conclusion, prior_rectification, goal_multi_year); qitai also asks for a monitoring report every month (M07).
_COMMON = """\
  - {rule: PF-P01-NOGOAL, project_id: FX-002, severity: 阻断}
  - {rule: PF-M01-MIDYEAR, project_id: FX-003, severity: 警告}
  - {rule: PF-M05-DEVIATION, project_id: FX-003, severity: 警告}
  - {rule: PF-P03-INCOMPLETEGOAL, project_id: FX-003, severity: 阻断}
  - {rule: PF-P05-EXANTE, project_id: FX-003, severity: 阻断}
  - {rule: PF-M01-MIDYEAR, project_id: FX-004, severity: 警告}
  - {rule: PF-P08-POORGRADE, project_id: FX-004, severity: 阻断}
  - {rule: PF-M01-MIDYEAR, project_id: FX-005, severity: 警告}
  - {rule: PF-M02-ZEROPAID, project_id: FX-005, severity: 警告}
  - {rule: PF-M05-DEVIATION, project_id: FX-005, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: FX-006, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: FX-007, severity: 警告}
  - {rule: PF-P10-GOODGRADE, project_id: FX-007, severity: 提示}
""" + "  - {rule: PF-D03-ABSENT, severity: 警告}\n" * 7
MANIFEST = f"""\
# 导出清单：预算管理一体化系统（FASP2）绩效模块的夜间导出，由列映射 maps/fasp2.yaml 读成 perfrules 数据契约。
# 由 samples/exports/build_fasp2_2022.py 生成。
as_of: {AS_OF}
map: fasp2
system: 预算管理一体化系统（FASP2）
about: FASP2 的表名与列名（BGT_PM_ANNUAL、pro_code、apply_up、PAY_VOUCHER_BILL 的 vou_date…）、部门/单位/财政区划写成代码
  （代码表/ 中的代码表换成名称，财政区划 652325 → qitai 配置）、监控报送时间为 17 位时间戳、元为单位；公开 FASP2 表中没有对应列的
  字段（是否新增、是否重大、实施开始/结束日期等）用 perfrules 的中文表头另加。
  用 --map fasp2（或清单中的 map 键）读取，发现与同一批项目按 perfrules 自身格式导出时完全相同。
expect:
  qitai:
{_COMMON}""" + "".join(f"  - {{rule: PF-M07-MONTHLY, project_id: FX-00{i}, severity: 提示}}\n" for i in range(1, 8)) + \
    "  - {rule: PF-D03-ABSENT, severity: 警告}\n" * 4 + f"""\
  national:
{_COMMON}"""


def write_perfrules(out: Path) -> None:
    """The same facts in perfrules' own shape (Chinese headers, names, 是/否, ISO dates)."""
    region = next(iter(DIVISIONS.values()))
    write_csv(out / "项目.csv",
              ["地区", "预算年度", "预算单位", "主管部门", "项目编码", "项目名称", "支出类别", "申请金额(元)", "预算金额",
               *EXTRA_HEADERS],
              [[region, "2022", UNITS[p["agency"]], DEPARTMENTS[p["dept"]], p["project_id"], p["project_name"], p["category"],
                p["amount"], p["budget"], *_extras(p)] for p in PROJECTS])
    write_csv(out / "绩效指标.csv", ["预算年度", "项目编码", "一级指标", "二级指标", "指标名称", "指标值", "计量单位", "指标数值"],
              [["2022", pid, l1, l2, name, target, unit, _number(target)] for pid, l1, l2, name, target, unit in INDICATORS])
    write_csv(out / "支付明细.csv", ["预算年度", "项目编码", "支付日期", "支付金额"],
              [["2022", pid, date, amount] for pid, date, amount in PAYMENTS])
    write_csv(out / "绩效监控.csv", ["预算年度", "项目编码", "监控月份", "是否偏离绩效目标", "执行进度是否滞后", "是否存在严重问题"],
              [["2022", pid, date, YES_NO[dev], YES_NO[poor], YES_NO[serious]] for pid, date, dev, poor, serious in MONITORING])
    write_csv(out / "绩效评价.csv", ["评价年度", "项目编码", "评价得分", "评价等级", "评价方式"],
              [[year, pid, score, grade, "单位自评"] for pid, year, score, grade in EVALUATIONS])
    (out / "manifest.yaml").write_text(f"as_of: {AS_OF}\n", encoding="utf-8")


def main() -> None:
    """Write one shape to a folder (default: the committed FASP2 sample)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["fasp2", "perfrules"], default="fasp2")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or (OUT if args.shape == "fasp2" else HERE / "fasp2-2022-perfrules-shape")
    (write_fasp2 if args.shape == "fasp2" else write_perfrules)(out)
    print(out)


if __name__ == "__main__":
    main()
