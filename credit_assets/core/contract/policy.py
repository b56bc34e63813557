"""The fair-lending policy: which columns each rule keeps out of the model, and the check that the contract
agrees with it.

The table (`protected_attributes.tsv`, or the file CREDIT_ASSETS_PROTECTED_POLICY names) has one row per
rule: jurisdiction, the attribute(s) it protects, the columns that carry them, the rule cited and, per
attribute in the same order, the reference group the fair-lending monitor compares every other group with.
Features derived from a protected column are protected too (features.py follows the column lineage).

Reference groups are fixed control groups, never the month's most approved group (which flipped between
Married, Separated and Widow from month to month, so the ratios of different months compared different things):
- sex: M. Fair-lending analysis customarily treats men as the control group for sex (as it treats
  non-Hispanic white applicants for race): the comparison asks whether women fare worse.
- marital status: Married, the conventional control: ECOA's marital-status rule answered unmarried applicants
  (women above all) being refused what married ones got, so the other statuses are measured against Married;
  it is also the largest group, so the reference rate is the steadiest.
- age: 35-44, the prime-age band: ECOA covers any age an applicant can contract at, the young as well as the
  elderly (62+), so the control is a middle band, away from both ends, with many applicants.

Borderline columns, decided here:
- CNT_FAM_MEMBERS and NAME_TYPE_SUITE are protected: a household count includes a spouse or partner, and
  "Spouse, partner" accompanying the applicant states the marital status (12 CFR 1002.6(b)(1)).
- CNT_CHILDREN stays a model input: Regulation B lets a creditor ask for the number of dependents
  (1002.5(d)(3)) and weigh their cost; what it forbids are assumptions about bearing children (1002.6(b)(3)).
- Restricted inputs (`restricted_inputs.tsv`, or the file CREDIT_ASSETS_RESTRICTED_POLICY names: one row per
  column or feature with the role it must have and the rule cited) are not prohibited bases but are kept out
  of the model and off the notices:
  - NAME_INCOME_TYPE ("Source of income"): 1002.6(b)(5) and 1002.6(b)(2)(iii)-(iv) forbid discounting pension,
    retirement, part-time or public-assistance income because of its source, and "Source of income" on a
    decline reads as exactly that; its "Pensioner" level stands for age and "Maternity leave" for sex.
  - DAYS_EMPLOYED_IS_SENTINEL: the sentinel marks pensioners and the unemployed, the same information; its
    statement "Not currently employed" on a pensioner's decline reads as discounting the pension. What stays
    is DAYS_EMPLOYED itself, missing on those rows, and ORGANIZATION_TYPE's "XNA" on the same rows: the model
    can still tell them apart, and the fair-lending monitor's 62+ band watches that this does not act as age.
  - NAME_EDUCATION_TYPE ("Level of education"): education correlates with race and national origin; it was at
    the centre of the Massachusetts Attorney General's July 2025 settlement with Earnest Operations and of an
    independent monitorship (from 2020) of an online lender's educational-data model. No proxy analysis here
    supports it, so it is not used.
- WEEKDAY_APPR_PROCESS_START and HOUR_APPR_PROCESS_START are excluded (not protected): when a form was
  filled in is no creditworthiness factor an applicant could be told about.
"""

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from credit_assets.core.contract import schema

DEFAULT_POLICY = Path(__file__).with_name("protected_attributes.tsv")
POLICY_ENV = "CREDIT_ASSETS_PROTECTED_POLICY"
DEFAULT_RESTRICTIONS = Path(__file__).with_name("restricted_inputs.tsv")
RESTRICTIONS_ENV = "CREDIT_ASSETS_RESTRICTED_POLICY"
JURISDICTIONS = {"US": "United States (ECOA, Regulation B)", "EU": "European Union (AI Act, EBA guidelines)"}


class ContractError(ValueError):
    """The contract and the fair-lending policy disagree; the message names every column and rule involved."""


@dataclass(frozen=True)
class PolicyRule:
    """One row of the policy table."""

    jurisdiction: str
    attribute: str
    columns: tuple[str, ...]
    rule: str
    reference_groups: tuple[str, ...] = ()  # one per attribute of the row, in the same order; () for none

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes the row protects ('sex, marital status, age' names three)."""
        return tuple(part.strip() for part in self.attribute.split(","))


def read_policy(path: Path) -> list[PolicyRule]:
    """The policy table's rules, in file order."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        PolicyRule(
            row["jurisdiction"].strip(),
            row["attribute"].strip(),
            tuple(c.strip() for c in row["columns"].split(",")),
            row["rule"].strip(),
            _listed(row.get("reference_group")),
        )
        for row in rows
    ]


def _listed(cell: str | None) -> tuple[str, ...]:
    """A comma-separated cell as its stripped entries; an empty or absent cell as none."""
    return tuple(part.strip() for part in cell.split(",")) if cell and cell.strip() else ()


def reference_groups(rules: Iterable[PolicyRule]) -> dict[str, str]:
    """The reference group of each attribute the rules name one for (contract_problems finds conflicts)."""
    return {
        attribute: reference
        for rule in rules
        for attribute, reference in zip(rule.attributes, rule.reference_groups, strict=False)
    }


def reference_problems(rules: Iterable[PolicyRule]) -> list[str]:
    """Rows whose reference groups do not pair with their attributes, and attributes given two references."""
    rules = list(rules)
    problems = [
        f"policy rule '{rule.rule}' names {len(rule.reference_groups)} reference group(s) for "
        f"{len(rule.attributes)} attribute(s) ({rule.attribute})"
        for rule in rules
        if rule.reference_groups and len(rule.reference_groups) != len(rule.attributes)
    ]
    named: dict[str, set[str]] = {}
    for rule in rules:
        for attribute, reference in zip(rule.attributes, rule.reference_groups, strict=False):
            named.setdefault(attribute, set()).add(reference)
    return problems + [
        f"policy names reference groups {', '.join(sorted(refs))} for {attribute}: one only"
        for attribute, refs in named.items()
        if len(refs) > 1
    ]


@cache
def policy() -> tuple[PolicyRule, ...]:
    """The configured policy (CREDIT_ASSETS_PROTECTED_POLICY, else the project's table)."""
    return tuple(read_policy(Path(os.environ.get(POLICY_ENV, DEFAULT_POLICY))))


@dataclass(frozen=True)
class Restriction:
    """One row of the restricted-inputs table: a column or feature, the role it must have, the rule cited."""

    name: str
    decision: schema.Role
    rule: str


def read_restrictions(path: Path) -> list[Restriction]:
    """The restricted-inputs table's rows, in file order."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [Restriction(row["name"].strip(), schema.Role(row["decision"].strip()), row["rule"].strip()) for row in rows]


@cache
def restrictions() -> tuple[Restriction, ...]:
    """The configured restricted inputs (CREDIT_ASSETS_RESTRICTED_POLICY, else the project's table)."""
    return tuple(read_restrictions(Path(os.environ.get(RESTRICTIONS_ENV, DEFAULT_RESTRICTIONS))))


@dataclass(frozen=True)
class Feature:
    """A model feature as the contract sees it: its role, the columns it comes from and its reason."""

    name: str
    role: schema.Role
    sources: tuple[str, ...]
    reason: schema.Reason | None


def contract_problems(
    columns: Iterable[schema.Column],
    rules: Iterable[PolicyRule],
    features: Iterable[Feature],
    restricted: Iterable[Restriction],
) -> list[str]:
    """Every way the contract, its features and the two policy tables disagree, one message each."""
    columns, rules, features = list(columns), list(rules), list(features)
    roles = {col.name: col.role for col in columns}
    problems = reference_problems(rules) + [
        f"policy rule '{rule.rule}' names unknown jurisdiction {rule.jurisdiction!r} "
        f"(known: {', '.join(JURISDICTIONS)})"
        for rule in rules
        if rule.jurisdiction not in JURISDICTIONS
    ]
    cited: dict[str, list[str]] = {}
    for rule in rules:
        for name in rule.columns:
            cited.setdefault(name, []).append(rule.rule)
    for name, cited_by in cited.items():
        if name not in roles:
            problems += [f"policy rule '{rule}' names {name}, which is not a contract column" for rule in cited_by]
        elif roles[name] is not schema.Role.PROTECTED:
            role = "a model input" if roles[name] is schema.Role.INPUT else f"{roles[name]}, not protected"
            problems.append(f"contract makes protected column {name} {role} (rule: {' | '.join(cited_by)})")
    problems += [
        f"contract marks {name} protected but no policy rule cites it"
        for name, role in roles.items()
        if role is schema.Role.PROTECTED and name not in cited
    ]
    return problems + restriction_problems(roles, restricted, features) + reason_problems(features)


def restriction_problems(
    roles: dict[str, schema.Role], restricted: Iterable[Restriction], features: Iterable[Feature]
) -> list[str]:
    """Restricted columns or features that the contract or its features give another role than the table's."""
    given: dict[str, set[schema.Role]] = {name: {role} for name, role in roles.items()}
    for feature in features:
        given.setdefault(feature.name, set()).add(feature.role)
    problems = []
    for row in restricted:
        if row.decision is schema.Role.INPUT:
            problems.append(f"restricted-inputs rule '{row.rule}' makes {row.name} a model input: it restricts nothing")
        elif row.name not in given:
            problems.append(f"restricted-inputs rule '{row.rule}' names {row.name}, which is no column or feature")
        elif given[row.name] != {row.decision}:
            other = given[row.name] - {row.decision}
            role = "a model input" if schema.Role.INPUT in other else ", ".join(sorted(other))
            problems.append(f"contract makes restricted {row.name} {role}, not {row.decision} (rule: {row.rule})")
    return problems


def reason_problems(features: Iterable[Feature]) -> list[str]:
    """Model inputs without a reason, constraints on non-inputs, and a statement given by two factor families."""
    problems, family_of = [], {}
    for feature in features:
        if feature.role is schema.Role.INPUT and feature.reason is None:
            problems.append(f"model input {feature.name} has no reason statement")
        if feature.role is not schema.Role.INPUT and feature.reason is not None and feature.reason.direction:
            problems.append(f"monotone constraint on {feature.name}, which is not a model input ({feature.role})")
        if feature.role is schema.Role.INPUT and feature.reason is not None:
            for text in (feature.reason.statement(), feature.reason.statement(missing=True)):
                family = family_of.setdefault(text, feature.reason.family_name)
                if family != feature.reason.family_name:
                    problems.append(
                        f"statement '{text}' of {feature.name} belongs to two families: {family}, "
                        f"{feature.reason.family_name}"
                    )
    return problems


def require_consistent(
    columns: Iterable[schema.Column],
    rules: Iterable[PolicyRule],
    features: Iterable[Feature],
    restricted: Iterable[Restriction],
) -> None:
    """Raise ContractError listing every disagreement between the contract, its features and the policy."""
    problems = contract_problems(columns, rules, features, restricted)
    if problems:
        raise ContractError("The data contract breaks the fair-lending policy:\n- " + "\n- ".join(problems))
