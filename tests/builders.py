"""Small builders the tests share: hypothesis settings for the fuzz suites, and one rule written as YAML text."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, settings


def fuzz_settings(examples: int) -> settings:
    """Seeded (derandomized), no deadline and no example database: a fuzz suite runs the same cases on every machine
    and in every run, so CI cannot pass or fail by chance."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    )


def rule_yaml(rule_id: str, fails_when: str, requires: str = "[]", *, title: str = "测试") -> str:
    """One rule of a rule file, as the YAML lines a platform would write (an item of ``rules:``)."""
    return (
        f"  - id: {rule_id}\n"
        f"    title: {{zh: {title}, en: Test}}\n"
        "    stages: [publish, payout]\n"
        "    severity: low\n"
        f"    requires: {requires}\n"
        f"    fails_when: {json.dumps(fails_when, ensure_ascii=False)}\n"
        "    effect: {outcome: review}\n"
        "    cites: [convention-2.0/request-cap]\n"
        "    message: {zh: 未通过。, en: Failed.}\n"
    )
