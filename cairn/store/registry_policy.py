"""Promotion policies: declarative rules checked when a version moves to a stage or an alias
is pointed at it.

A policy document (per model, or server-wide under the name "*") is JSON:

    {"stages":  {"Production": [{"kind": "requires_signature"},
                                {"kind": "metric", "key": "accuracy", "op": ">=", "value": 0.9},
                                {"kind": "requires_approval"}]},
     "aliases": {"champion": [{"kind": "requires_tag", "key": "validated", "value": "yes"}]}}

Rule kinds: `requires_signature` (the registry's copy has an MLmodel file with a signature),
`metric` (the source run's latest value of `key` compared with `op` `value`; ops >=, >, <=, <,
==), `requires_tag` (a version tag `key`, equal to `value` when given) and
`requires_approval` (stages only: a direct transition is refused, a transition request must
be approved). The server-wide rules and the model's rules both apply.

This module parses and evaluates; the facts about a version (its tags, metrics, MLmodel
file) come from the store through `VersionFacts`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cairn.entities import ModelVersionStage
from cairn.exceptions import InvalidParameterValue, PolicyRefused

SERVER_WIDE = "*"
KINDS = ("requires_signature", "metric", "requires_tag", "requires_approval")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
MAX_RULES = 100


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    key: str = ""
    op: str = ""
    value: float | str | None = None

    def __str__(self) -> str:
        if self.kind == "metric":
            return f"metric {self.key} {self.op} {self.threshold:g}"
        if self.kind == "requires_tag":
            return f"requires_tag {self.key}" + (f"={self.value}" if self.value is not None else "")
        return self.kind

    @property
    def threshold(self) -> float:
        return float(self.value) if isinstance(self.value, int | float) else math.nan

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        if self.key:
            d["key"] = self.key
        if self.op:
            d["op"] = self.op
        if self.value is not None:
            d["value"] = self.value
        return d


@dataclass(frozen=True, slots=True)
class Policy:
    stages: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    aliases: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": {s: [r.to_dict() for r in rules] for s, rules in self.stages.items()},
            "aliases": {a: [r.to_dict() for r in rules] for a, rules in self.aliases.items()},
        }


def parse_policy(document: Any) -> Policy:
    """A `Policy` from its JSON document; InvalidParameterValue naming what is wrong."""
    if not isinstance(document, dict):
        raise InvalidParameterValue("A policy must be a JSON object with 'stages' and 'aliases'")
    unknown = set(document) - {"stages", "aliases"}
    if unknown:
        raise InvalidParameterValue(f"Unknown policy section(s): {', '.join(sorted(unknown))}")
    stages: dict[str, tuple[Rule, ...]] = {}
    for name, rules in _section(document, "stages").items():
        try:
            stage = ModelVersionStage.parse(name)
        except ValueError:
            raise InvalidParameterValue(f"Policy names an unknown stage {name!r}") from None
        stages[stage.value] = _rules(rules, f"stage {stage.value}", approval=True)
    aliases: dict[str, tuple[Rule, ...]] = {}
    for name, rules in _section(document, "aliases").items():
        aliases[str(name)] = _rules(rules, f"alias {name}", approval=False)
    if sum(len(r) for r in (*stages.values(), *aliases.values())) > MAX_RULES:
        raise InvalidParameterValue(f"A policy may hold at most {MAX_RULES} rules")
    return Policy(stages, aliases)


def _section(document: dict[str, Any], name: str) -> dict[str, Any]:
    section = document.get(name) or {}
    if not isinstance(section, dict):
        raise InvalidParameterValue(f"Policy section {name!r} must map names to rule lists")
    return section


def _rules(items: Any, where: str, approval: bool) -> tuple[Rule, ...]:
    if not isinstance(items, list):
        raise InvalidParameterValue(f"The rules of {where} must be a list")
    return tuple(_rule(item, where, approval) for item in items)


def _rule(item: Any, where: str, approval: bool) -> Rule:
    if not isinstance(item, dict) or item.get("kind") not in KINDS:
        raise InvalidParameterValue(
            f"Each rule of {where} needs a 'kind', one of {', '.join(KINDS)}; got {item!r}"
        )
    kind = item["kind"]
    unknown = set(item) - {"kind", "key", "op", "value"}
    if unknown:
        raise InvalidParameterValue(f"Rule {kind} of {where}: unknown field(s) {sorted(unknown)}")
    if kind == "metric":
        key, op, value = item.get("key"), item.get("op"), item.get("value")
        if not isinstance(key, str) or not key:
            raise InvalidParameterValue(f"Rule metric of {where} needs a 'key'")
        if op not in OPS:
            raise InvalidParameterValue(
                f"Rule metric {key} of {where}: 'op' must be one of {' '.join(OPS)}"
            )
        if not _finite_number(value):
            raise InvalidParameterValue(
                f"Rule metric {key} of {where}: 'value' must be a finite number"
            )
        return Rule(kind, key, op, float(value))  # type: ignore[arg-type]
    if kind == "requires_tag":
        key, value = item.get("key"), item.get("value")
        if not isinstance(key, str) or not key:
            raise InvalidParameterValue(f"Rule requires_tag of {where} needs a 'key'")
        if value is not None and not isinstance(value, str):
            raise InvalidParameterValue(f"Rule requires_tag {key} of {where}: 'value' is text")
        return Rule(kind, key, value=value)
    if kind == "requires_approval" and not approval:
        raise InvalidParameterValue(
            f"requires_approval applies to stages only, not to {where} (approvals are for "
            "stage transitions)"
        )
    return Rule(kind)


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


class VersionFacts(Protocol):
    """What rules look at, read lazily by the store (an MLmodel file is read only when a
    `requires_signature` rule asks)."""

    def signature_problem(self) -> str | None:
        """None when the version's MLmodel file has a signature, else why not."""
        ...

    def metric(self, key: str) -> tuple[bool, float | None]:
        """(the source run has the metric, its latest value; None for NaN)."""
        ...

    def has_run(self) -> bool: ...

    def tags(self) -> dict[str, str]: ...


def failure(rule: Rule, facts: VersionFacts) -> str | None:
    """Why `rule` fails for the version `facts` describe, or None when it holds."""
    if rule.kind == "requires_signature":
        return facts.signature_problem()
    if rule.kind == "requires_tag":
        tags = facts.tags()
        if rule.key not in tags:
            return f"the version has no tag {rule.key!r}"
        if rule.value is not None and tags[rule.key] != rule.value:
            return f"tag {rule.key!r} is {tags[rule.key]!r}, not {rule.value!r}"
        return None
    if rule.kind == "metric":
        if not facts.has_run():
            return "the version has no source run"
        found, value = facts.metric(rule.key)
        if not found:
            return f"the source run has no metric {rule.key!r}"
        if value is None or not OPS[rule.op](value, rule.threshold):
            return f"the source run's {rule.key} is {value if value is not None else 'NaN'}"
        return None
    return None  # requires_approval is the caller's business


def check(rules: list[tuple[str, Rule]], facts: VersionFacts, target: str, approved: bool) -> None:
    """Raise PolicyRefused for the first rule that fails; `rules` are (policy name, rule).

    Every other rule is checked before `requires_approval`, so a request for a transition
    that could never pass is refused at once."""
    for owner, rule in rules:
        if rule.kind == "requires_approval":
            continue
        problem = failure(rule, facts)
        if problem is not None:
            raise PolicyRefused(
                f"{target} refused: rule `{rule}` ({_owner(owner)}) failed: {problem}"
            )
    if not approved:
        for owner, rule in rules:
            if rule.kind == "requires_approval":
                raise PolicyRefused(
                    f"{target} refused: rule `requires_approval` ({_owner(owner)}): request "
                    "the transition (`cairn models request`) and have it approved"
                )


def _owner(name: str) -> str:
    return "server-wide policy" if name == SERVER_WIDE else f"policy of model {name!r}"


def stage_rules(policies: dict[str, Policy], stage: str) -> list[tuple[str, Rule]]:
    return [(n, r) for n, p in policies.items() for r in p.stages.get(stage, ())]


def alias_rules(policies: dict[str, Policy], alias: str) -> list[tuple[str, Rule]]:
    return [(n, r) for n, p in policies.items() for r in p.aliases.get(alias, ())]


def needs_approval(policies: dict[str, Policy], stage: str) -> bool:
    return any(r.kind == "requires_approval" for _, r in stage_rules(policies, stage))
