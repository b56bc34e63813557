"""Column roles, the protected-attribute policy and the reason catalogue: the contract's fair-lending half."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from credit_assets.core import features, scoring
from credit_assets.core.contract import policy, schema
from credit_assets.core.contract.schema import Reason, Role

PROTECTED_CARRIERS = {"CODE_GENDER", "NAME_FAMILY_STATUS", "DAYS_BIRTH", "CNT_FAM_MEMBERS", "NAME_TYPE_SUITE"}
RESTRICTED = {"NAME_EDUCATION_TYPE", "NAME_INCOME_TYPE", "DAYS_EMPLOYED_IS_SENTINEL"}
DERIVED_FROM_PROTECTED = {"AGE_YEARS", "EMPLOYED_SHARE_OF_AGE", "INCOME_PER_FAMILY_MEMBER"}


def test_model_features_exclude_every_protected_column_and_derivative() -> None:
    assert set(features.protected_features()) == PROTECTED_CARRIERS | DERIVED_FROM_PROTECTED
    assert not set(features.feature_names()) & (PROTECTED_CARRIERS | DERIVED_FROM_PROTECTED)
    assert {"WEEKDAY_APPR_PROCESS_START", "HOUR_APPR_PROCESS_START"}.isdisjoint(features.feature_names())
    assert {"EXT_SOURCE_3", "CREDIT_INCOME_RATIO", "EMPLOYED_YEARS", "CNT_CHILDREN"} <= set(features.feature_names())


def test_every_model_input_has_a_reason_statement_that_names_no_protected_attribute() -> None:
    statements = {reason.statement(missing) for reason in features.reasons().values() for missing in (False, True)}
    assert set(features.reasons()) == set(features.feature_names())
    assert not [
        text for text in statements if any(word in text.lower() for word in ("sex", "gender", " age", "marital"))
    ]
    assert features.reasons()["EXT_SOURCE_3"].statement() == "External credit score 3 too low"
    assert features.reasons()["CREDIT_INCOME_RATIO"].statement() == "Loan amount high relative to income"
    assert features.reasons()["DAYS_EMPLOYED"].statement() == "Short employment history"
    assert features.reasons()["EXT_SOURCE_1"].statement(missing=True) == "External credit score 1: not provided"


def test_the_project_contract_agrees_with_the_policy() -> None:
    assert (
        policy.contract_problems(schema.columns(), policy.policy(), features.catalogue(), policy.restrictions()) == []
    )
    assert {rule.jurisdiction for rule in policy.policy()} == {"US", "EU"}


def test_education_and_income_source_are_never_inputs_or_reasons() -> None:
    decided = {row.name: row for row in policy.restrictions()}
    assert set(decided) == RESTRICTED and {row.decision for row in decided.values()} == {Role.EXCLUDED}
    assert "1002.6(b)(5)" in decided["NAME_INCOME_TYPE"].rule and "Earnest" in decided["NAME_EDUCATION_TYPE"].rule
    assert not RESTRICTED & set(features.feature_names())
    assert {schema.column("NAME_EDUCATION_TYPE").reason, schema.column("NAME_INCOME_TYPE").reason} == {None}
    statements = " | ".join(scoring.allowed_statements()).lower()
    assert not [word for word in ("education", "source of income", "not currently employed") if word in statements]


def test_a_restricted_column_or_feature_made_a_model_input_is_named_with_its_rule() -> None:
    columns = _with_role("NAME_EDUCATION_TYPE", Role.INPUT)
    catalogue = [
        dataclasses.replace(f, role=Role.INPUT, reason=Reason("Employment status", 0, "Not currently employed"))
        if f.name == "DAYS_EMPLOYED_IS_SENTINEL"
        else f
        for f in features.catalogue()
    ]
    first, second = policy.contract_problems(columns, policy.policy(), catalogue, policy.restrictions())
    assert first.startswith(
        "contract makes restricted DAYS_EMPLOYED_IS_SENTINEL a model input, not excluded (rule: ECOA"
    )
    assert second.startswith("contract makes restricted NAME_EDUCATION_TYPE a model input, not excluded (rule: Mass")
    unknown = policy.Restriction("NAME_RELIGION", Role.EXCLUDED, "a house rule")
    assert policy.contract_problems(schema.columns(), policy.policy(), features.catalogue(), [unknown]) == [
        "restricted-inputs rule 'a house rule' names NAME_RELIGION, which is no column or feature"
    ]


def test_features_of_one_factor_family_share_it_and_its_statements_belong_to_it_alone() -> None:
    family = {name: reason.family_name for name, reason in features.reasons().items()}
    ext = {name for name in family if name.startswith("EXT_SOURCE")}
    assert len(ext) == 8 and {family[name] for name in ext} == {"External credit scores"}
    assert family["REGION_RATING_CLIENT"] == family["REGION_RATING_CLIENT_W_CITY"]
    assert family["APARTMENTS_AVG"] == family["TOTALAREA_MODE"] == family["LANDAREA_MEDI"]
    assert family["OBS_30_CNT_SOCIAL_CIRCLE"] == family["DEF_60_CNT_SOCIAL_CIRCLE"]
    assert family["DAYS_EMPLOYED"] == family["EMPLOYED_YEARS"] != family["AMT_INCOME_TOTAL"]
    clash = policy.Feature("EXTRA", Role.INPUT, ("AMT_CREDIT",), Reason("Income", -1, "Income too low", "Other"))
    problems = policy.contract_problems(
        schema.columns(), policy.policy(), [*features.catalogue(), clash], policy.restrictions()
    )
    assert "statement 'Income too low' of EXTRA belongs to two families: Income, Other" in problems


def test_the_policy_names_a_fixed_reference_group_per_attribute() -> None:
    # The conventional control groups: men for sex, the prime-age band for age, the married for marital status.
    assert policy.reference_groups(policy.policy()) == {"sex": "M", "marital status": "Married", "age": "35-44"}
    [eu] = [rule for rule in policy.policy() if rule.jurisdiction == "EU"]
    assert eu.attributes == ("sex", "marital status", "age") and eu.reference_groups == ("M", "Married", "35-44")


def test_reference_groups_that_do_not_pair_with_attributes_or_disagree_are_refused() -> None:
    rules = [
        policy.PolicyRule("US", "sex, age", ("CODE_GENDER", "DAYS_BIRTH"), "two attributes", ("M",)),
        policy.PolicyRule("EU", "sex", ("CODE_GENDER",), "another control", ("F",)),
    ]
    assert policy.reference_problems(rules) == [
        "policy rule 'two attributes' names 1 reference group(s) for 2 attribute(s) (sex, age)",
        "policy names reference groups F, M for sex: one only",
    ]
    problems = policy.contract_problems(
        schema.columns(), [*policy.policy(), *rules], features.catalogue(), policy.restrictions()
    )
    assert "policy names reference groups F, M for sex: one only" in problems


def _with_role(name: str, role: Role) -> list[schema.Column]:
    return [dataclasses.replace(col, role=role) if col.name == name else col for col in schema.columns()]


def test_a_protected_column_made_a_model_input_is_named_with_its_rule() -> None:
    [problem] = policy.contract_problems(
        _with_role("CODE_GENDER", Role.INPUT), policy.policy(), features.catalogue(), policy.restrictions()
    )
    assert problem.startswith("contract makes protected column CODE_GENDER a model input (rule: ECOA, Regulation B")
    assert "| AI Act (EU) 2024/1689" in problem  # every rule that protects it


def test_a_model_input_without_reason_and_a_constraint_on_a_non_input_are_refused() -> None:
    catalogue = list(features.catalogue())
    catalogue[0] = dataclasses.replace(catalogue[0], reason=None)  # NAME_CONTRACT_TYPE, a model input
    catalogue.append(policy.Feature("AGE_SQUARED", Role.PROTECTED, ("DAYS_BIRTH",), Reason("Age", 1, "Old")))
    problems = policy.contract_problems(schema.columns(), policy.policy(), catalogue, policy.restrictions())
    assert problems == [
        "model input NAME_CONTRACT_TYPE has no reason statement",
        "monotone constraint on AGE_SQUARED, which is not a model input (protected)",
    ]


def test_an_unknown_jurisdiction_and_an_unknown_column_are_refused() -> None:
    rules = [*policy.policy(), policy.PolicyRule("XX", "religion", ("RELIGION",), "a rule of nowhere")]
    problems = policy.contract_problems(schema.columns(), rules, features.catalogue(), policy.restrictions())
    assert "policy rule 'a rule of nowhere' names unknown jurisdiction 'XX' (known: US, EU)" in problems
    assert "policy rule 'a rule of nowhere' names RELIGION, which is not a contract column" in problems


def test_definitions_refuse_to_load_when_a_policy_table_keeps_out_a_model_input(tmp_path: Path) -> None:
    protected = policy.DEFAULT_POLICY.read_text() + "US\temployer\tORGANIZATION_TYPE\ta stricter house rule\n"
    restricted = policy.DEFAULT_RESTRICTIONS.read_text() + "OCCUPATION_TYPE\texcluded\ta house rule\n"
    (tmp_path / "policy.tsv").write_text(protected)
    (tmp_path / "restricted.tsv").write_text(restricted)
    env = {
        **os.environ,
        policy.POLICY_ENV: str(tmp_path / "policy.tsv"),
        policy.RESTRICTIONS_ENV: str(tmp_path / "restricted.tsv"),
    }
    loaded = subprocess.run(
        [sys.executable, "-c", "import credit_assets.definitions"], env=env, capture_output=True, text=True
    )
    assert loaded.returncode != 0
    assert "ContractError" in loaded.stderr
    assert "contract makes protected column ORGANIZATION_TYPE a model input (rule: a stricter house rule)" in (
        loaded.stderr
    )
    assert "contract makes restricted OCCUPATION_TYPE a model input, not excluded (rule: a house rule)" in (
        loaded.stderr
    )


@pytest.mark.parametrize("name", sorted(PROTECTED_CARRIERS))
def test_protected_columns_are_kept_for_monitoring_with_no_reason(name: str) -> None:
    assert schema.column(name).role is Role.PROTECTED and schema.column(name).reason is None
