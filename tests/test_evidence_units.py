"""An amount held in 元 is shown in the unit its header names (``perfrules.outputs.evidence``)."""

from __future__ import annotations

from perfrules.outputs.evidence import in_header_unit, shown_evidence


def test_an_amount_is_shown_in_its_headers_unit():
    assert in_header_unit(500000, "申请金额(万元)") == "50.00"
    assert in_header_unit(1234567.0, "申请金额（万元）") == "123.4567"
    assert in_header_unit(250_000_000, "申请金额(亿元)") == "2.50"
    assert in_header_unit(12_345_678_900, "申请金额(万)") == "1,234,567.89"
    assert in_header_unit(800000, "上年预算金额(元)") == "800,000.00"


def test_what_is_not_an_amount_in_a_unit_stays_as_it_is():
    assert in_header_unit(500000, "apply_up") == 500000
    assert in_header_unit(None, "申请金额(万元)") is None
    assert in_header_unit(True, "申请金额(万元)") is True


def test_only_the_amounts_the_evaluation_marks_are_converted():
    evidence = {"amount": 500000, "prior_year_amount": 500000,
                "headers": {"amount": "申请金额(万元)", "prior_year_amount": "上年预算金额(万元)"}, "units": {"amount": "元"}}
    labels = {"amount": "申请金额", "prior_year_amount": "上年预算金额"}
    # an amount the evaluation did not mark is shown as held, naming its unit
    assert shown_evidence(evidence, labels, "zh") == "申请金额(万元)：50.00；上年预算金额(万元)：500,000元"
    assert shown_evidence({"amount": 500000, "units": {"amount": "元"}}, labels, "zh") == "申请金额：500,000元"
