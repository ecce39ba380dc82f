"""The data-quality configuration: what a data-quality owner edits without touching code.

`config/dq_rules.yaml` gives every registered rule its title, description, severity,
threshold, owners per source (default: the source's own data-quality owner from the source
registry, which the file's top-level `source_owners` may override), optional source scope, an on/off switch, how breaches are mailed
(`notify: immediate | daily_digest`), whether a breach blocks the KPIs built on the
source (`blocking`, default: error rules block) and the rule's own parameters (e.g.
DQ13 `max_swing`, `key_kpis`). Loading validates the
whole file and reports every problem at once, each naming its rule, so an owner's typo
fails the run with a message they can act on instead of silently disabling a check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from etl.core.settings import ConfigurationError, Settings
from etl.kpi.catalog import CATALOG
from etl.quality.rules import RULES
from etl.sources import SOURCES

#: The shipped configuration; a deployment's own is the setting `SOFLI_DQ_RULES` (Settings.dq_rules_path).
DEFAULT_PATH = Settings.__dataclass_fields__["dq_rules_path"].default

SEVERITIES = ("error", "warning")
THRESHOLD_KINDS = ("rate", "count")
_REQUIRED = ("title", "description", "severity", "threshold")
_OPTIONAL = ("owners", "sources", "enabled", "notify", "blocking", "audience")
#: In an owner list: "the source's own data-quality owner(s)" (registry, or top-level `source_owners`).
SOURCE_OWNER = "source"
#: The key of an owner mapping that applies to every source not listed in it.
DEFAULT_OWNERS = "default"
NOTIFY_MODES = ("immediate", "daily_digest")
#: Who a rule's results are for in the committee report: its data-quality page (committee) or
#: the appendix (engineering: the pipeline's own checks).
AUDIENCES = ("committee", "engineering")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class DqConfigError(ConfigurationError, ValueError):
    """The rule configuration is unreadable or invalid; the message lists every problem."""


@dataclass(frozen=True)
class RuleConfig:
    """One rule's settings. A rule breaches when its failing rate (or count) exceeds `threshold`."""

    rule_id: str
    title: str
    description: str
    severity: str
    threshold_kind: str
    threshold: float
    owners: tuple[str, ...] = (SOURCE_OWNER,)  # for every source not in owners_by_source
    sources: tuple[str, ...] | None = None  # None: every source the rule covers
    enabled: bool = True
    notify: str = "immediate"  # or "daily_digest": an unchanged breach is mailed once a day
    blocking: bool | None = None  # None: error rules block, warnings do not
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # overrides of the rule's defaults
    #: The rule's owners on one source, replacing `owners` there (`owners: {default: [...], boern: [...]}`).
    owners_by_source: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    #: What `source` in an owner list means per source: the file's top-level `source_owners`
    #: over the registry's `Source.dq_owners`.
    source_owner_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    audience: str = "committee"  # committee | engineering (the report's appendix)

    def owners_for(self, source: str) -> tuple[str, ...]:
        """Who is mailed when the rule breaches on `source`: the rule × source's owners with
        `source` read as that source's own owner(s), then owners the rule's code knows (each once)."""
        known = RULES[self.rule_id].source_owners if self.rule_id in RULES else None
        owners: list[str] = []
        for owner in self.owners_by_source.get(source, self.owners):
            owners += source_dq_owners(source, self.source_owner_map) if owner == SOURCE_OWNER else [owner]
        return tuple(dict.fromkeys((*owners, *(known(source) if known else ()))))

    @property
    def all_owners(self) -> tuple[str, ...]:
        """Every address the rule can mail, over the sources in scope (`mart.dq_rule.owners`)."""
        return tuple(dict.fromkeys(o for s in self.sources_in_scope for o in self.owners_for(s)))

    @property
    def is_blocking(self) -> bool:
        """A breach of a blocking rule flags the KPIs built on its source (`mart.dq_kpi_flag`)."""
        return self.blocking if self.blocking is not None else self.severity == "error"

    @property
    def rule_params(self) -> dict[str, Any]:
        """The rule's parameters: its registered defaults, overridden by the configuration."""
        return {**RULES[self.rule_id].params, **self.params}

    @property
    def sources_in_scope(self) -> tuple[str, ...]:
        return self.sources if self.sources is not None else RULES[self.rule_id].sources


def source_dq_owners(source: str, overrides: Mapping[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """A source's own data-quality owner(s): the configuration's override, else the registry's."""
    if overrides and source in overrides:
        return tuple(overrides[source])
    return SOURCES[source].dq_owners if source in SOURCES else ()


def load_rules_config(path: str | Path = DEFAULT_PATH) -> dict[str, RuleConfig]:
    """Read and validate the rule configuration file (a run passes `settings.dq_rules_path`)."""
    config_path = Path(path)
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DqConfigError(f"{config_path}: cannot read the data-quality configuration: {exc}") from exc
    except yaml.YAMLError as exc:
        raise DqConfigError(f"{config_path}: not valid YAML: {exc}") from exc
    return parse_rules_config(data, origin=str(config_path))


def parse_rules_config(data: Any, origin: str = "dq_rules") -> dict[str, RuleConfig]:
    """Validate parsed YAML (`{"rules": {rule_id: {...}}, "source_owners": {...}}`) against the
    rule and source registries."""
    if (not isinstance(data, Mapping) or "rules" not in data or not set(data) <= {"rules", "source_owners"}
            or not isinstance(data["rules"], Mapping)):
        raise DqConfigError(f"{origin}: expected the top-level key 'rules' mapping rule ids to settings "
                            "(and optionally 'source_owners')")
    problems: list[str] = []
    source_owner_map = _parse_source_owner_map(data.get("source_owners"), problems)
    configs: dict[str, RuleConfig] = {}
    for rule_id, settings in data["rules"].items():
        rule_problems: list[str] = []
        config = _parse_rule(str(rule_id), settings, rule_problems, source_owner_map)
        problems += [f"rule {rule_id}: {p}" for p in rule_problems]
        if config is not None and not rule_problems:
            configs[config.rule_id] = config
    problems += [f"rule {rule_id}: implemented but not configured (add it; `enabled: false` switches it off)"
                 for rule_id in RULES if rule_id not in data["rules"]]
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise DqConfigError(f"{origin}: invalid data-quality configuration:\n{listing}")
    return dict(sorted(configs.items()))


def _parse_source_owner_map(value: Any, problems: list[str]) -> dict[str, tuple[str, ...]]:
    """Top-level `source_owners: {source: [e-mail, ...]}`: a deployment's owners of a source."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append("source_owners must map sources to lists of e-mail addresses")
        return {}
    unknown = [s for s in value if s not in SOURCES]
    if unknown:
        problems.append(f"source_owners {unknown} are not sources; known: {', '.join(SOURCES)}")
    parsed = {}
    for source, owners in value.items():
        source_problems: list[str] = []
        parsed[str(source)] = _parse_owners(owners, source_problems, token=False)
        if not owners:
            source_problems.append("owners must not be empty")
        problems += [f"source_owners {source}: {p}" for p in source_problems]
    return parsed


def _parse_rule(rule_id: str, settings: Any, problems: list[str],
                source_owner_map: Mapping[str, tuple[str, ...]] | None = None) -> RuleConfig | None:
    """One rule's settings; appends what is wrong to `problems` rather than stopping at the first."""
    if rule_id not in RULES:
        problems.append(f"no such rule; known rules: {', '.join(RULES)}")
        return None
    if not isinstance(settings, Mapping):
        problems.append("settings must be a mapping")
        return None
    allowed = _REQUIRED + _OPTIONAL + tuple(RULES[rule_id].params)
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
    missing = [key for key in _REQUIRED if settings.get(key) in (None, "", [])]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
        return None

    for key in ("title", "description"):
        if not isinstance(settings[key], str):
            problems.append(f"{key} must be text")
    severity = settings["severity"]
    if severity not in SEVERITIES:
        problems.append(f"severity must be 'error' or 'warning', got {severity!r}")
    threshold_kind, threshold = _parse_threshold(settings["threshold"], problems)
    owners, owners_by_source = _parse_rule_owners(rule_id, settings.get("owners"), problems)
    sources = _parse_sources(rule_id, settings.get("sources"), problems)
    enabled = settings.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"enabled must be true or false, got {enabled!r}")
    notify = settings.get("notify", "immediate")
    if notify not in NOTIFY_MODES:
        problems.append(f"notify must be 'immediate' or 'daily_digest', got {notify!r}")
    blocking = settings.get("blocking")
    if blocking is not None and not isinstance(blocking, bool):
        problems.append(f"blocking must be true or false, got {blocking!r}")
    params = {key: settings[key] for key in RULES[rule_id].params if key in settings}
    for key, value in params.items():
        _check_param(key, value, RULES[rule_id].params[key], problems)
    audience = settings.get("audience", "committee")
    if audience not in AUDIENCES:
        problems.append(f"audience must be 'committee' or 'engineering', got {audience!r}")
    config = RuleConfig(rule_id, settings["title"], settings["description"], severity,
                        threshold_kind, threshold, owners, sources, enabled, notify, blocking, params,
                        owners_by_source=owners_by_source, source_owner_map=dict(source_owner_map or {}),
                        audience=audience)
    nobody = [s for s in (sources if sources is not None else RULES[rule_id].sources) if not config.owners_for(s)]
    if nobody:
        problems.append(f"no owner for source(s) {nobody}: the source has no data-quality owner of its own; "
                        "list an address under owners")
    return config


def _check_param(key: str, value: Any, default: Any, problems: list[str]) -> None:
    """A rule parameter has its default's shape: a positive number, or a list of ids."""
    if isinstance(default, int | float) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(f"{key} must be a number > 0, got {value!r}")
    elif isinstance(default, list | tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{key} must be a list of ids, got {value!r}")
        elif key == "key_kpis":
            unknown = [v for v in value if v not in CATALOG]
            if unknown:
                problems.append(f"key_kpis {unknown} are not KPI catalogue ids")


def _parse_threshold(threshold: Any, problems: list[str]) -> tuple[str, float]:
    if not isinstance(threshold, Mapping) or set(threshold) != {"kind", "value"}:
        problems.append("threshold must be {kind: rate|count, value: <number>}")
        return "", 0.0
    kind, value = threshold["kind"], threshold["value"]
    if kind not in THRESHOLD_KINDS:
        problems.append(f"threshold kind must be 'rate' or 'count', got {kind!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(f"threshold value must be a number >= 0, got {value!r}")
        return str(kind), 0.0
    if kind == "rate" and value > 1:
        problems.append(f"a rate threshold is a share between 0 and 1, got {value!r}")
    if kind == "count" and value != int(value):
        problems.append(f"a count threshold must be a whole number, got {value!r}")
    return str(kind), float(value)


def _parse_rule_owners(rule_id: str, value: Any,
                       problems: list[str]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """A rule's `owners`: absent (each source's own owner), a list for every source, or
    `{default: [...], <source>: [...]}`; `source` in a list is the source's own owner."""
    if value is None:
        return (SOURCE_OWNER,), {}
    if isinstance(value, list):
        return _parse_owners(value, problems), {}
    if not isinstance(value, Mapping) or not value:
        problems.append(f"owners must be a list of e-mail addresses (or '{SOURCE_OWNER}') or a mapping "
                        f"{{{DEFAULT_OWNERS}: [...], <source>: [...]}}")
        return (SOURCE_OWNER,), {}
    covered = RULES[rule_id].sources
    outside = [s for s in value if s != DEFAULT_OWNERS and s not in covered]
    if outside:
        problems.append(f"owners {outside} are not covered by this rule; it covers: {', '.join(covered)}")
    parsed: dict[str, tuple[str, ...]] = {}
    for key, owners in value.items():
        key_problems: list[str] = []
        parsed[str(key)] = _parse_owners(owners, key_problems)
        problems += [f"owners {key}: {p}" for p in key_problems]
    default = parsed.pop(DEFAULT_OWNERS, (SOURCE_OWNER,))
    return default, parsed


def _parse_owners(owners: Any, problems: list[str], token: bool = True) -> tuple[str, ...]:
    if not isinstance(owners, list):
        problems.append("owners must be a list of e-mail addresses")
        return ()
    bad = [o for o in owners if not isinstance(o, str) or not (_EMAIL.match(o) or (token and o == SOURCE_OWNER))]
    if bad:
        problems.append("owners must be e-mail addresses" + (f" or '{SOURCE_OWNER}'" if token else "")
                        + f", got {bad}")
    if len(set(map(str, owners))) != len(owners):
        problems.append("an owner is listed twice")
    return tuple(str(o) for o in owners)


def _parse_sources(rule_id: str, sources: Any, problems: list[str]) -> tuple[str, ...] | None:
    if sources is None:
        return None
    covered = RULES[rule_id].sources
    if not isinstance(sources, list) or not sources:
        problems.append(f"sources must be a non-empty list of: {', '.join(covered)}")
        return None
    outside = [s for s in sources if s not in covered]
    if outside:
        problems.append(f"sources {outside} are not covered by this rule; it covers: {', '.join(covered)}")
    return tuple(s for s in covered if s in sources)
