"""Build samples/exports/county-2022: a small nightly export as a county budget system writes it.

Chinese headers; 项目.csv in GBK (as Excel on Chinese Windows saves it); 绩效指标.csv in UTF-8
with BOM; 支付明细.xlsx with Excel serial dates; 绩效评价.parquet; messy values of every form the
data contract lists. Run: python samples/exports/build_county_2022.py
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parent / "county-2022"

PROJECT_HEADER = ["项目编码", "项目名称", "预算年度", "主管部门", "预算单位", "类型", "支出类别", "预算类型",
                  "申请金额(万元)", "上年预算金额(元)", "是否新增", "是否重大", "实施开始日期", "实施结束日期",
                  "是否设定绩效目标", "绩效目标审核状态", "事前评估报告编号", "上年评价等级", "上年评价得分",
                  "预算金额", "已支付金额"]
PROJECTS = [
    # clean: 120万 in a 万元 column, 良, fully paid on schedule
    ["GX-001", "农村饮水安全巩固提升", "2022", "县水利局", "县供水站", "项目", "特定目标类", "一般公共预算",
     "120", "1,000,000.00", "否", "否", "2022/01/01", "2022年12月31日", "是", "通过", "", "良好", "86", "1,200,000", ""],
    # P01: no goal
    ["GX-002", "乡村道路养护", "2022", "县交通运输局", "县公路站", "项目", "特定目标类", "一般公共预算",
     "30", "300000", "否", "否", "2022-01-01", "2022-12-31", "否", "", "", "良", "82", "300000", "100000"],
    # P05: new, exactly 50万 (written as 50万元 in a 万元 column: the value's own unit wins), no ex-ante report
    ["GX-003", "社区养老服务站建设", "2022", "县民政局", "县养老服务中心", "项目", "特定目标类", "一般公共预算",
     "50万元", "-", "是", "否", "2022-03-01", "2023-02-28", "是", "通过", "", "", "", "500000", ""],
    # P08: 较差 last year, asks for as much as last year → 阻断
    ["GX-004", "农业技术推广", "2022", "县农业农村局", "县农技推广中心", "项目", "特定目标类", "一般公共预算",
     "80", "800,000", "N", "N", "2022-01-01", "2022-12-31", "Y", "通过", "", "较差", "55", "800000", ""],
    # M02: nothing paid by 10月31日
    ["GX-005", "河道清淤", "2022", "县水利局", "县河道管理所", "项目", "特定目标类", "政府性基金预算",
     "60", "600000", "否", "否", "2022-01-01", "2022-12-31", "是", "通过", "", "良", "85", "600000", "0"],
    # D01: not one of the four books
    ["GX-006", "专项债配套", "2022", "县发改委", "县重点项目中心", "项目", "特定目标类", "专项资金",
     "40", "400000", "否", "否", "2022-01-01", "2022-12-31", "是", "通过", "", "优秀", "93", "400000", ""],
    # D03: amount unreadable; it is new and not major, so P05 cannot be decided without the amount
    ["GX-007", "智慧校园建设", "2022", "县教育局", "县第一中学", "项目", "特定目标类", "一般公共预算",
     "一百万", "", "是", "否", "2022-02-01", "2022-12-31", "是", "通过", "", "", "", "1000000", ""],
    # full-width digits, √ for yes (GBK has no ✓), report present: clean
    ["GX-008", "基层卫生院设备购置", "2022", "县卫生健康委", "县人民医院", "项目", "特定目标类", "一般公共预算",
     "１２０", "１，０００，０００", "√", "是", "2022-01-01", "2022-12-31", "是", "通过", "SQPG-2021-033", "良", "88", "1200000", ""],
]

INDICATOR_HEADER = ["项目编码", "预算年度", "一级指标", "二级指标", "指标名称", "指标值", "指标数值", "计量单位"]
PAYMENT_HEADER = ["项目编码", "预算年度", "支付日期", "支付金额"]
EVALUATION_HEADER = ["项目编码", "评价年度", "评价等级", "评价得分", "是否开展自评", "评价方式", "目标是否完成", "整改情况", "是否公开"]


# What the export demonstrates and the findings it must give (tests/test_samples.py checks them).
MANIFEST = """# 导出清单
as_of: 2022-10-31
system: 预算管理一体化系统
about: 县级夜间导出的真实样貌：GBK 编码、中文表头、万元列、50万元、全角数字、√、Excel 序列日期、等级同义词、无法识别的金额；
  项目表缺少三列、导出没有绩效监控表（M05、M06 所需，由 PF-D03-ABSENT 各报告一次），上年评价取自绩效评价表；
  评价结果“差”未公开由 E04 提示（公开通报 E03 只在南昌高新区启用）。
expect:
  national:
  - {rule: PF-P01-NOGOAL, project_id: GX-002, severity: 阻断}
  - {rule: PF-P05-EXANTE, project_id: GX-003, severity: 阻断}
  - {rule: PF-P08-POORGRADE, project_id: GX-004, severity: 阻断}
  - {rule: PF-D01-BUDGETBOOK, project_id: GX-006, severity: 阻断}
  - {rule: PF-M02-ZEROPAID, project_id: GX-005, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: GX-002, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: GX-003, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: GX-004, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: GX-005, severity: 警告}
  - {rule: PF-M01-MIDYEAR, project_id: GX-007, severity: 警告}
  - {rule: PF-P13-LOWSTREAK, project_id: GX-004, severity: 警告}
  - {rule: PF-E02-NOEXPLANATION, project_id: GX-004, severity: 警告}
  - {rule: PF-E04-RESULTPUBLISH, project_id: GX-004, severity: 提示}
  - {rule: PF-P10-GOODGRADE, project_id: GX-006, severity: 提示}
  - {rule: PF-D03-UNREADABLE, project_id: GX-007, severity: 警告}
  - {rule: PF-D03-MISSING, project_id: GX-007, severity: 警告}
  - {rule: PF-D03-ABSENT, severity: 警告}
  - {rule: PF-D03-ABSENT, severity: 警告}
  - {rule: PF-D03-ABSENT, severity: 警告}
  - {rule: PF-D03-ABSENT, severity: 警告}
  - {rule: PF-D03-ABSENT, severity: 警告}
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(PROJECT_HEADER)
    writer.writerows(PROJECTS)
    (OUT / "项目.csv").write_bytes(buf.getvalue().encode("gbk"))

    indicators = []
    for pid in ("GX-001", "GX-003", "GX-004", "GX-005", "GX-006", "GX-007", "GX-008"):
        indicators.append([pid, "2022", "产出指标", "数量指标", "完成数量", "≥1项", "1", "项"])
        indicators.append([pid, "2022", "效益指标", "社会效益指标", "受益人数", "≥1000人", "1000", "人"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(INDICATOR_HEADER)
    writer.writerows(indicators)
    (OUT / "绩效指标.csv").write_bytes(buf.getvalue().encode("utf-8-sig"))

    # Dates as Excel serial numbers (44650 = 2022-03-30), as many systems export them.
    payments = pd.DataFrame([
        ["GX-001", 2022, 44650, 600000], ["GX-001", 2022, 44742, 400000], ["GX-002", 2022, 44700, 100000],
        ["GX-003", 2022, "2022-06-15", 100000], ["GX-004", 2022, 44700, 300000],
        ["GX-006", 2022, "2022/05/20", 200000], ["GX-007", 2022, 44800, 300000],
        ["GX-008", 2022, "2022年4月8日", "600,000"],
    ], columns=PAYMENT_HEADER)
    payments.to_excel(OUT / "支付明细.xlsx", index=False, engine="openpyxl")

    evaluations = pd.DataFrame([
        ["GX-001", 2021, "良好", 86.0, "是", "单位自评", "是", "无需", "是"],
        ["GX-002", 2021, "良", 82.0, "是", "单位自评", "是", "无需", "是"],
        ["GX-004", 2020, "中", 70.0, "是", "单位自评", "否", "已完成", "是"],
        ["GX-004", 2021, "较差", 55.0, "是", "财政重点评价", "否", "未完成", "否"],
        ["GX-005", 2021, "良", 85.0, "是", "单位自评", "是", "无需", "是"],
        ["GX-006", 2021, "优秀", 93.0, "是", "单位自评", "是", "无需", "是"],
        ["GX-008", 2021, "良", 88.0, "是", "单位自评", "是", "无需", "是"],
    ], columns=EVALUATION_HEADER)
    evaluations.to_parquet(OUT / "绩效评价.parquet", index=False)


if __name__ == "__main__":
    main()
