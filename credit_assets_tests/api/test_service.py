"""The decision service end to end: a real `credit-assets serve` process, a real champion from the registry, the
real decision log in SQLite and in PostgreSQL, and the batch's forecasts of the same month to agree with."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from credit_assets.core.contract import schema
from credit_assets.core.contract.schema import ID_COLUMN
from credit_assets.core.decisions import log as decision_log
from credit_assets.core.decisions.log import DECISIONS, DecisionLog
from credit_assets.core.decisions.tokens import Scope, TokenStore
from credit_assets.core.modeling.change_control import AWAITING, MODEL_RISK_ROLE
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.scoring import reason_columns
from credit_assets.core.store import ArtifactStore
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.decision_service import RunningService, decision_service, forecasts_of, month_records
from credit_assets_tests.support.e2e import postgres_server, wait_until
from credit_assets_tests.support.live_decisions import decide
from credit_assets_tests.support.materialise import SCORED_MONTH, copy_storage, materialize_month

BATCH = 250


@pytest.fixture(scope="module")
def service(scored_month_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = Path(copy_storage(scored_month_root, tmp_path_factory.mktemp("service")).root)
    with decision_service(root, f"sqlite:///{root / 'decision_log.sqlite'}") as running:
        yield running


def audit_lines(service: RunningService) -> list[dict]:
    path = ArtifactStore.at(service.root).portal_audit_log
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_row_of_a_month_gets_the_batch_forecast_to_1e_9(service: RunningService) -> None:
    records, batch = month_records(service.root, SCORED_MONTH), forecasts_of(service.root, SCORED_MONTH)
    answers = []
    with service.client(service.decide_token) as client:
        answers += [client.post("/v1/decision", json=record).json() for record in records[:20]]  # one at a time
        for start in range(20, len(records), BATCH):
            response = client.post("/v1/decisions", json={"applications": records[start : start + BATCH]})
            assert response.status_code == 200, response.text
            answers += response.json()["decisions"]
    live = {answer["application_id"]: answer for answer in answers}
    assert len(live) == len(batch) == len(records)
    gap = max(
        abs(live[i]["default_probability"] - p)
        for i, p in zip(batch.SK_ID_CURR, batch.default_probability, strict=True)
    )
    print(f"parity: {len(live)} applications, largest probability difference {gap:.3g}")
    assert gap <= 1e-9
    for row in batch.itertuples():
        answer = live[row.SK_ID_CURR]
        assert (answer["decision"], answer["model_version"]) == (row.decision, row.model_version)
        assert answer["reasons"] == [getattr(row, column) for column in reason_columns() if getattr(row, column)]
    logged = service.log.month_decisions(answers[0]["decided_at"][:7])
    assert {d.decision_id for d in logged} >= {answer["decision_id"] for answer in answers}  # logged before answered


def test_a_record_breaking_the_contract_is_refused_field_by_field_and_nothing_is_decided(
    service: RunningService,
) -> None:
    good, bad = month_records(service.root, SCORED_MONTH)[:2]
    bad = {**bad, "SK_ID_CURR": 999_000_003, "AMT_CREDIT": -5.0, "CODE_GENDER": "Q", "TARGET": 1}
    del bad["EXT_SOURCE_2"]
    with service.client(service.decide_token) as client:
        response = client.post("/v1/decisions", json={"applications": [{**good, "SK_ID_CURR": 999_000_001}, bad]})
        assert response.status_code == 422
        failures = {(f["record"], f["field"], f["rule"]) for f in response.json()["failures"]}
        assert failures == {
            (1, "EXT_SOURCE_2", "columns_match_contract"),
            (1, "TARGET", "columns_match_contract"),
        }  # the record's shape first: its values are judged once every column is there
        del bad["TARGET"]
        bad["EXT_SOURCE_2"] = 0.5
        response = client.post("/v1/decision", json=bad)
        assert response.status_code == 422
        failures = [(f["field"], f["rule"], f["value"]) for f in response.json()["failures"]]
        assert failures == [
            ("CODE_GENDER", "levels_within_contract", "Q"),
            ("AMT_CREDIT", "values_within_bounds", -5.0),
        ]
        assert client.post("/v1/decision", content=b'{"SK_ID_CURR": NaN}').status_code == 400
    assert service.log.by_application([999_000_001, 999_000_003]) == {}


def test_tokens_scopes_and_revocation_are_enforced_and_every_refusal_is_audited(service: RunningService) -> None:
    record = month_records(service.root, SCORED_MONTH)[0]
    with service.client() as anonymous, service.client(service.read_token) as reader:
        assert anonymous.post("/v1/decision", json=record).status_code == 401
        assert service.client("ca_0123456789abcdef_forged").post("/v1/decision", json=record).status_code == 401
        assert reader.post("/v1/decision", json=record).status_code == 403
        assert reader.get("/v1/champion").json()["model_version"].startswith(("lightgbm", "scorecard"))
        too_big = {"applications": [record] * 1001}
    with service.client(service.decide_token) as caller:
        assert caller.post("/v1/decisions", json=too_big).status_code == 422  # over the batch limit: nothing read
        assert caller.get("/v1/champion").status_code == 403
    tokens = TokenStore(service.log)
    _, text = tokens.create("short-lived", Scope.DECIDE)
    with service.client(text) as short_lived:
        assert short_lived.post("/v1/decision", json={**record, "SK_ID_CURR": 999_000_004}).status_code == 200
        tokens.revoke("short-lived")
        assert short_lived.post("/v1/decision", json={**record, "SK_ID_CURR": 999_000_005}).status_code == 401
    outcomes = [(line["user"], line["outcome"]) for line in audit_lines(service) if line["action"].startswith("api")]
    assert {(None, "refused: 401"), ("reader", "refused: 403"), ("caller", "refused: 403")} <= set(outcomes)
    assert sum(outcome == (None, "refused: 401") for outcome in outcomes) == 3  # none, forged, revoked


def test_a_retry_gets_the_logged_decision_and_changed_values_are_refused(service: RunningService) -> None:
    record = {**month_records(service.root, SCORED_MONTH)[0], "SK_ID_CURR": 999_000_002}
    with service.client(service.decide_token) as client:
        first = client.post("/v1/decision", json=record)
        again = client.post("/v1/decision", json=record)
        changed = client.post("/v1/decision", json={**record, "AMT_INCOME_TOTAL": record["AMT_INCOME_TOTAL"] + 1})
    assert again.json() == first.json() and again.headers["x-replayed"] == "true"
    assert changed.status_code == 409
    with service.log.engine.begin() as connection, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        connection.execute(DECISIONS.update().values(decision="approve"))


def test_an_approved_promotion_is_picked_up_without_a_restart(service: RunningService) -> None:
    """The model-risk workflow approves a candidate; the running service answers with it, never a mix."""
    registry = ModelRegistry(ArtifactStore.at(service.root).blobs)
    entry = registry.promotions()[-1]
    old = entry["champion"]
    challenger = next(c["version"] for c in entry["candidates"] if c["version"] != old)
    proposal = {k: v for k, v in entry.items() if k not in ("sequence", "sha256", "previous_sha256")}
    registry.append(
        {
            **proposal,
            "month": "2020-11",
            "proposed": challenger,
            "approval": {"status": AWAITING},
            "requested_by": ["pipeline"],
        }
    )
    records = [
        {**r, "SK_ID_CURR": 998_000_000 + i} for i, r in enumerate(month_records(service.root, SCORED_MONTH)[:40])
    ]
    with service.client(service.decide_token) as client:
        before = client.post("/v1/decisions", json={"applications": records[:20]}).json()
        registry.decide(challenger, "approve", "validator", MODEL_RISK_ROLE, "approved for the swap test")
        wait_until(lambda: client.get("/healthz").status_code == 200 and _version(service) == challenger, 30, "swap")
        after = client.post("/v1/decisions", json={"applications": records[20:]}).json()
    assert {d["model_version"] for d in before["decisions"]} == {old} == {before["model_version"]}
    assert {d["model_version"] for d in after["decisions"]} == {challenger}


def test_the_service_describes_itself_from_the_contract(service: RunningService) -> None:
    described = httpx.get(f"{service.url}/openapi.json").json()
    assert {"/v1/decision", "/v1/decisions", "/v1/decisions/{decision_id}", "/v1/champion"} <= set(described["paths"])
    body = described["paths"]["/v1/decision"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fields = body["properties"]
    assert list(fields) == schema.column_names(with_target=False)  # every contract column, TARGET absent


def _version(service: RunningService) -> str:
    with service.client(service.read_token) as reader:
        return reader.get("/v1/champion").json()["model_version"]


def test_postgresql_holds_the_log_append_only(scored_month_root: Path, tmp_path: Path) -> None:
    root = Path(copy_storage(scored_month_root, tmp_path).root)
    records = month_records(root, SCORED_MONTH)[:50]
    with postgres_server() as pg:
        url = (
            f"postgresql+psycopg2://{pg['DAGSTER_PG_USERNAME']}:{pg['DAGSTER_PG_PASSWORD']}"
            f"@{pg['DAGSTER_PG_HOST']}:{pg['DAGSTER_PG_PORT']}/{pg['DAGSTER_PG_DB']}"
        )
        with decision_service(root, url) as service, service.client(service.decide_token) as client:
            answers = client.post("/v1/decisions", json={"applications": records}).json()["decisions"]
            assert client.post("/v1/decision", json=records[0]).headers["x-replayed"] == "true"
            logged = service.log.by_application(record["SK_ID_CURR"] for record in records)
            assert service.log.engine.dialect.name == "postgresql"
            assert {d.decision_id for d in logged.values()} == {a["decision_id"] for a in answers}
            probabilities = np.array([logged[a["application_id"]].probability for a in answers])
            assert np.array_equal(probabilities, [a["default_probability"] for a in answers])  # doubles, exactly
            with service.log.engine.begin() as connection, pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(DECISIONS.delete())
        # the month's fold and notices read the same PostgreSQL: decisions made in the scored month, one declined
        # by an underwriter after 40 days (the notice check must fail the month, naming it)
        storage = StorageResource(root=str(root))
        arrived = datetime(2020, 10, 2, 9, tzinfo=UTC)
        decided = decide(storage, [{**r, "SK_ID_CURR": 997_000_000 + i} for i, r in enumerate(records)], arrived)
        log = DecisionLog(url)
        log.append(decided)
        referral = next(d for d in decided if d.decision != "approve")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(decision_log, "now_utc", lambda: arrived + timedelta(days=40))
            log.underwrite(referral.decision_id, "uw", "decline", "income_not_verified", "no payslips sent")
        result = materialize_month(storage, SCORED_MONTH, ["decisions", "adverse_action_notices"], log_url=url)
        verdicts = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert verdicts["live_matches_batch"] and not verdicts["declines_noticed_within_30_days"]
        notices = storage.store.read_table("adverse_action_notices", SCORED_MONTH)
        assert referral.application_id in set(notices[ID_COLUMN])
