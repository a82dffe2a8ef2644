"""The built-in data-completeness rules (requirement D03): their ids, titles, source and recommendation.

They are not YAML rules, because what they report (an unreadable value, a value a rule needed, a table or
column the input lacks) is found by the evaluators, not by a condition. The catalogue lists them with the rest.
"""

from __future__ import annotations

D03_SOURCE = [{"document": "奇财预〔2018〕140号", "clause": "二、（四）"}]
D03_RULES = {
    "PF-D03-UNREADABLE": ("无法识别的数据值", "Unreadable value"),
    "PF-D03-MISSING": ("规则所需数据缺失", "Data a rule needs is missing"),
    "PF-D03-ABSENT": ("输入缺少规则所需的表或列", "Input lacks a table or column a rule needs"),
}
D03_RECOMMENDATION = ("补全或更正数据后重新检查；缺失数据不视为合规。",
                      "Complete or correct the data and check again; missing data is never taken as compliant.")
