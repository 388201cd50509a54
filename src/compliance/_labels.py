"""Labels for the codes that appear in decisions (payout routes, disclosure items), in Chinese and English."""

from __future__ import annotations

from compliance.decision import Text

PAYOUT_ROUTES: dict[str, Text] = {
    "hospital_account": Text(zh="直接拨付至患者所在医院的就诊帐户", en="directly to the patient's hospital account"),
    "batched_with_plan": Text(
        zh="医疗计划与花费清单经审核并公示后分批打款",
        en="in batches, after a medical plan and cost list are reviewed and published",
    ),
}

DISCLOSURE_LABELS: dict[str, Text] = {
    "basic_medical_insurance": Text(zh="基本医疗保险", en="basic medical insurance"),
    "commercial_insurance": Text(zh="商业保险", en="commercial insurance"),
    "minimum_subsistence_allowance": Text(zh="是否享受低保", en="minimum subsistence allowance (低保)"),
    "registered_poor_household": Text(zh="是否建档立卡贫困户", en="registered poor household (建档立卡贫困户)"),
    "government_medical_aid": Text(zh="是否获得政府医疗救助", en="government medical aid"),
    "other_platform_fundraising": Text(zh="是否在其他平台发起筹款", en="fundraising on other platforms"),
    "house": Text(zh="有无房产", en="house (real estate)"),
    "car": Text(zh="有无车辆", en="car"),
}

OBLIGATION_ITEMS: dict[str, dict[str, Text]] = {
    "payout_route": PAYOUT_ROUTES,
    "urge_disclosure": DISCLOSURE_LABELS,
}

_OBLIGATION_TEMPLATES: dict[str, Text] = {
    "payout_route": Text(zh="仅可按以下方式打款：{items}", en="Pay out only {items}."),
    "urge_disclosure": Text(zh="平台须督促发起人补充公示：{items}", en="Urge the initiator to disclose: {items}."),
}


def obligation_message(code: str, items: tuple[str, ...]) -> Text:
    """The sentence that states an obligation, in both languages."""
    labels = OBLIGATION_ITEMS[code]
    template = _OBLIGATION_TEMPLATES[code]
    joiner_en = " or " if code == "payout_route" else ", "
    return Text(
        zh=template.zh.format(
            items="；或".join(labels[i].zh for i in items)
            if code == "payout_route"
            else "、".join(labels[i].zh for i in items)
        ),
        en=template.en.format(items=joiner_en.join(labels[i].en for i in items)),
    )
