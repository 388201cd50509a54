"""Make the sample export: synthetic campaigns as a Chinese platform exports them, and the mapping back.

``campaigns-export.csv`` holds 2,000 campaigns from the synthetic generator
(``compliance.risk.synthetic.generate(2000, seed=2025)``), written the way Chinese platform exports come:
GB18030-encoded, Chinese column names (项目编号, 目标金额(元), 是否有房产, …), 是/否 and 有/无 for yes/no,
未填写 for a disclosure item not answered, Chinese names for relations, payees and diagnosis groups,
amounts with thousands separators, lists joined with ";", and two columns the schema does not have
(序号, 备注). ``export-mapping.yaml`` reads it back into flat columns. Both are made byte for byte the
same on every run, so a test can check the shipped files are the ones this script makes.

    python examples/make_sample_export.py            # check the shipped files are current
    python examples/make_sample_export.py --write    # regenerate them in examples/
    python examples/make_sample_export.py --out DIR  # write them into DIR
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path

import pandas as pd

from compliance.risk.synthetic import generate

ROWS, SEED = 2_000, 2025
HERE = Path(__file__).parent
EXPORT, MAPPING = "campaigns-export.csv", "export-mapping.yaml"

COLUMNS = {  # flat column -> the export's column name
    "campaign_id": "项目编号",
    "platform": "平台",
    "created_at": "发起时间",
    "target_amount": "目标金额(元)",
    "raised_amount": "已筹金额(元)",
    "initiator.real_name_verified": "发起人已实名认证",
    "initiator.id_number_hash": "发起人身份证号哈希",
    "initiator.relation_to_patient": "发起人与患者关系",
    "initiator.truthfulness_acknowledged": "发起人已承诺信息真实",
    "initiator.account_created_at": "发起人注册时间",
    "initiator.prior_campaign_count": "发起人此前发起次数",
    "initiator.prior_rejection_count": "发起人此前被驳回次数",
    "patient.real_name_verified": "患者已实名认证",
    "patient.id_number_hash": "患者身份证号哈希",
    "disclosure.basic_medical_insurance": "是否有医保",
    "disclosure.commercial_insurance": "是否有商业保险",
    "disclosure.minimum_subsistence_allowance": "是否享受低保",
    "disclosure.registered_poor_household": "是否建档立卡贫困户",
    "disclosure.government_medical_aid": "是否获得政府医疗救助",
    "disclosure.other_platform_fundraising": "是否在其他平台筹款",
    "disclosure.house": "是否有房产",
    "disclosure.car": "是否有车辆",
    "documents.medical_proof": "已提交医疗证明",
    "documents.medical_plan": "已提交治疗计划",
    "documents.cost_list": "已提交费用清单",
    "documents.plan_published": "计划已审核公示",
    "documents.edit_traces_detected": "材料检出修改痕迹",
    "payout.amount": "提现金额",
    "payout.payee": "收款方",
    "payout.batched": "是否分批提现",
    "payout.requested_at": "提现申请时间",
    "payout.payee_id_number_hash": "收款人身份证号哈希",
    "medical.diagnosis_category": "疾病类别",
    "medical.diagnosis": "诊断",
    "medical.hospital_id": "医院编号",
    "medical.estimated_cost": "预估治疗费用(元)",
    "medical.document_hashes": "医疗材料哈希",
    "activity.donation_count": "捐款笔数",
    "activity.donations_first_24h": "首日捐款笔数",
    "activity.amount_first_24h": "首日筹款金额(元)",
    "activity.share_count": "转发次数",
    "activity.endorsement_count": "证实人数",
    "activity.endorsements_first_24h": "首日证实人数",
    "activity.complaint_count": "举报次数",
    "promoter_id": "推广员编号",
    "other_platform_campaign_ids": "其他平台项目编号",
}
EXTRA = ("序号", "备注")  # a row number and free-text remarks: the export has them, the schema does not

YES_NO = {"是": True, "否": False}
HAVE = {"有": True, "无": False}  # house and car: 有房产/无房产
NOT_ANSWERED = "未填写"
RELATIONS = {"本人": "self", "配偶": "spouse", "父母": "parent", "子女": "child", "兄弟姐妹": "sibling",
             "其他亲属": "other_relative", "其他": "other"}  # fmt: skip
PAYEES = {"患者本人": "patient", "近亲属": "close_relative", "医院对公账户": "hospital_account", "其他": "other"}
CATEGORIES = {"白血病": "leukemia", "淋巴瘤": "lymphoma", "实体肿瘤": "solid_tumor", "器官衰竭": "organ_failure",
              "先天性心脏病": "congenital_heart", "烧伤或外伤": "burn_or_trauma", "脑卒中": "stroke",
              "罕见病": "rare_disease", "其他": "other"}  # fmt: skip
CODES = {
    "initiator.relation_to_patient": RELATIONS,
    "payout.payee": PAYEES,
    "medical.diagnosis_category": CATEGORIES,
}
LIST_SEPARATOR = ";"


def _cell(column: str, value: object) -> str:
    """One value as the export writes it."""
    if isinstance(value, tuple):
        return LIST_SEPARATOR.join(value)
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return NOT_ANSWERED if column.startswith("disclosure.") else ""
    if isinstance(value, bool):
        spelling = HAVE if column in ("disclosure.house", "disclosure.car") else YES_NO
        return next(word for word, meaning in spelling.items() if meaning is value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # local time (Asia/Shanghai), as platforms print it
    if isinstance(value, float):
        return f"{value:,.2f}"  # money, with thousands separators: "49,999.99"
    if column in CODES:
        return next(word for word, code in CODES[column].items() if code == value)
    return str(value)


def export_bytes() -> bytes:
    frame = generate(ROWS, seed=SEED)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([EXTRA[0], *COLUMNS.values(), EXTRA[1]])
    values = [frame[column].astype(object).tolist() for column in COLUMNS]  # Python bool, int, float, str
    for number, row in enumerate(zip(*values, strict=True), 1):
        remark = "已电话回访" if number % 97 == 0 else ""
        writer.writerow([number, *(_cell(c, v) for c, v in zip(COLUMNS, row, strict=True)), remark])
    return out.getvalue().encode("gb18030")


def _yaml_text(text: str) -> str:
    return text if re.fullmatch(r"[\w.()\u4e00-\u9fff]+", text) and not text[0].isdigit() else json.dumps(text)


BOOLEAN_SPELLINGS = {**YES_NO, **HAVE, NOT_ANSWERED: None}


def _block(column: str, words: dict[str, str]) -> list[str]:
    return [f"  {column}:", *(f"    {word}: {code}" for word, code in words.items())]


def mapping_bytes() -> bytes:
    lines = [
        "# Reads examples/campaigns-export.csv (made by examples/make_sample_export.py, which also writes",
        "# this file): a GB18030 export with Chinese column names and spellings. See docs/exports.md.",
        "format: compliance-mapping/1",
        "name: example-platform-export",
        "description: 2,000 synthetic campaigns exported the way a Chinese platform exports them.",
        "",
        "columns:                # the export's column -> the flat schema column",
        *(f"  {_yaml_text(name)}: {column}" for column, name in COLUMNS.items()),
        "",
        "ignore: [" + ", ".join(EXTRA) + "]",
        "unmapped: error         # any other column is a mistake to look at, not to drop",
        "",
        "values:                 # spellings -> schema values; by column type, or by column",
        "  boolean: {" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in BOOLEAN_SPELLINGS.items()) + "}",
        *(line for column, words in CODES.items() for line in _block(column, words)),
        "",
        "parse:",
        '  money: number         # "49,999.99" -> "49999.99", exactly',
        "",
        "separators:",
        f'  list: "{LIST_SEPARATOR}"',
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _same(path: Path, content: bytes) -> bool:
    return path.is_file() and path.read_bytes() == content


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate the files in examples/")
    parser.add_argument("--out", type=Path, help="write the files into this folder instead")
    args = parser.parse_args(argv)
    made = {EXPORT: export_bytes(), MAPPING: mapping_bytes()}
    if args.write or args.out:
        folder = args.out or HERE
        for name, content in made.items():
            (folder / name).write_bytes(content)
            print(f"wrote {folder / name} ({len(content):,} bytes)")
        return 0
    stale = [
        name for name, content in made.items() if not (HERE / name).is_file() or (HERE / name).read_bytes() != content
    ]
    for name in made:
        print(f"{name}: {'out of date: run with --write' if name in stale else 'up to date'}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
