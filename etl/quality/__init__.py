"""Data quality (pipeline stage 6): the rule catalogue, its configuration, the runner, the alerts.

`rules` registers one check per catalogue rule; `config` reads the owners' thresholds,
severities and owners from `config/dq_rules.yaml`; `runner` turns findings into
`mart.dq_rule`, `mart.dq_result` and `mart.dq_failure` and lists the breaches; `alerts`
mails each owner one summary of their breached rules, never with a CPR in it (a daily
digest for repeated unchanged breaches); `facts` gathers what DQ10/DQ13 need beyond the
model; `flags` lists the KPIs built on a source whose blocking rule breached.

`etl/tasks/quality.py` `run_data_quality` wires them: facts after `publish_kpis`, rules,
flags, publish; `send_dq_alerts` mails. See docs/data-quality.md.
"""

from etl.publish.marts import DQ_KPI_FLAG
from etl.quality.alerts import (
    assert_no_cpr,
    MailContext,
    build_owner_emails,
    send_emails,
)
from etl.quality.config import DqConfigError, RuleConfig, load_rules_config
from etl.quality.facts import RunFacts, load_run_facts
from etl.quality.flags import blocked_sources, blocking_breaches, flag_kpis
from etl.quality.rules import RULES, RuleFinding, rule
from etl.quality.runner import Breach, DqOutcome, format_breach_log, run_rules

__all__ = [
    "DQ_KPI_FLAG", "RULES", "Breach", "RunFacts", "blocked_sources", "blocking_breaches", "flag_kpis",
    "load_run_facts", "DqConfigError", "DqOutcome", "RuleConfig", "RuleFinding", "assert_no_cpr",
    "MailContext", "build_owner_emails", "format_breach_log", "load_rules_config",
    "rule", "run_rules", "send_emails",
]
