"""Data quality (pipeline stage 6): the rule catalogue, its configuration, the runner, the alerts.

`rules` registers one check per catalogue rule; `config` reads the owners' thresholds,
severities and owners from `config/dq_rules.yaml`; `runner` turns findings into
`mart.dq_rule`, `mart.dq_result` and `mart.dq_failure` and lists the breaches; `alerts`
mails each owner one summary of their breached rules, never with a CPR in it.
"""

from etl.quality.alerts import (
    assert_no_cpr,
    build_owner_emails,
    build_owner_emails_from_breaches,
    send_emails,
)
from etl.quality.config import DqConfigError, RuleConfig, load_rules_config
from etl.quality.rules import RULES, RuleFinding, rule
from etl.quality.runner import Breach, DqOutcome, format_breach_log, run_rules

__all__ = [
    "RULES", "Breach", "DqConfigError", "DqOutcome", "RuleConfig", "RuleFinding", "assert_no_cpr",
    "build_owner_emails", "build_owner_emails_from_breaches", "format_breach_log", "load_rules_config",
    "rule", "run_rules", "send_emails",
]
