"""A scored month's summary in the portal, on a real Dagster instance whose months ran through every asset and check:
decision counts and shares, the score chart, the top reasons, the checks that did not pass with their Dagster pages,
and the trends across months."""

import html
import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from credit_assets.core.scoring import DECISIONS, NO_REASON, PROBABILITY_BANDS, TOP_REASONS, reason_columns
from credit_assets.core.store import ArtifactStore
from credit_assets.portal import status
from credit_assets_tests.portal.conftest import FIRST, HISTORY, add_users, audit_log, log_in
from credit_assets_tests.support.materialise import (
    EVERY_ASSET,
    MONTHS,
    QUICK_COMPARISON,
    failure_message,
    materialize_month,
    storage_with,
)

SECOND = MONTHS[2]
DAGSTER = "http://127.0.0.1:3000"  # the portal's default Dagster URL
BAR_TITLE = re.compile(r'<g class="bar"><title>[^<]*?: ([\d,]+) applications')


@pytest.fixture(scope="module")
def scored(
    tmp_path_factory: pytest.TempPathFactory, small_landing: Path, instance: dg.DagsterInstance
) -> tuple[Path, dict[str, dg.ExecuteInProcessResult]]:
    """The history ingested, then FIRST and SECOND run through every asset and check, into the module's instance."""
    root = tmp_path_factory.mktemp("summary")
    storage = storage_with(root, small_landing, [HISTORY, FIRST, SECOND])
    history = materialize_month(storage, HISTORY, instance=instance)
    assert history.success, failure_message(history)
    results = {
        month: materialize_month(storage, month, EVERY_ASSET, instance=instance, op_configs=QUICK_COMPARISON)
        for month in (FIRST, SECOND)
    }
    assert all(result.success for result in results.values()), [failure_message(r) for r in results.values()]
    add_users(storage.store)
    return root, results


@pytest.fixture(scope="module")
def ingested_history(scored: tuple[Path, dict]) -> Path:
    """conftest's `store` and `client` open this module's scored root."""
    return scored[0]


def forecasts_of(store: ArtifactStore, month: str) -> pd.DataFrame:
    return pd.read_csv(store.local_root / "forecasts" / f"forecasts_{month}.csv", keep_default_na=False)


def test_the_months_page_shows_decision_counts_and_shares_and_links_the_summary(
    client: TestClient, store: ArtifactStore
) -> None:
    log_in(client, "victor")
    page = client.get("/").text
    row = page[page.index(f'id="month-{SECOND}"') :].split("</tr>", 1)[0]
    decisions = forecasts_of(store, SECOND)["decision"]
    for decision in DECISIONS:
        count = int((decisions == decision).sum())
        assert f"{decision} {count:,} ({100 * count / len(decisions):.1f} %)" in row
    assert f'href="/months/{SECOND}"' in row


def test_a_months_summary_shows_counts_chart_reasons_challenger_and_the_checks_that_did_not_pass(
    client: TestClient, store: ArtifactStore, scored: tuple[Path, dict], instance: dg.DagsterInstance
) -> None:
    log_in(client, "victor")
    answer = client.get(f"/months/{SECOND}")
    assert answer.status_code == 200
    page, forecasts = answer.text, forecasts_of(store, SECOND)
    assert f"{SECOND}: {len(forecasts):,} applications" in page
    decisions = page[page.index('class="decisions"') : page.index("</table>", page.index('class="decisions"'))]
    for decision in DECISIONS:
        count = int((forecasts["decision"] == decision).sum())
        assert re.search(
            rf"{decision}</td>\s*<td>{count:,}</td><td>{100 * count / len(forecasts):.1f} %</td>", decisions
        )
    chart = page[page.index('<svg class="chart"') : page.index("</svg>", page.index('<svg class="chart"'))]
    assert "<title" in chart and "<desc" in chart and 'role="img"' in chart
    totals = [int(total.replace(",", "")) for total in BAR_TITLE.findall(chart)]
    assert len(totals) == PROBABILITY_BANDS and sum(totals) == len(forecasts)
    declined = forecasts.loc[forecasts["decision"] == "decline", "default_probability"]
    bands = (declined * PROBABILITY_BANDS).astype(int).clip(upper=PROBABILITY_BANDS - 1)
    assert chart.count('class="decision-decline"') == bands.nunique()  # one segment in every band with a decline
    given = forecasts[reason_columns()].stack()
    expected = given[given != NO_REASON].value_counts().head(TOP_REASONS)
    shown = re.findall(r'<tr class="reason"><td>([^<]*)</td><td>([\d,]+)</td>', page)
    assert [(html.unescape(reason), count) for reason, count in shown] == [(r, f"{n:,}") for r, n in expected.items()]
    comparison = status.latest_metadata(instance, "model_comparison", SECOND)[1]["month"].records
    for row in (record.data for record in comparison):
        assert f"<tr><td>{row['role']}</td><td>{row['family']}</td><td>{row['forecast_auc']:.3f}</td>" in page
    not_passed = [e for e in scored[1][SECOND].get_asset_check_evaluations() if not e.passed]
    assert not_passed  # the small months' fair-lending check warns: the page must say so
    for evaluation in not_passed:
        asset = evaluation.asset_key.to_user_string()
        link = f"{DAGSTER}/assets/{asset}?view=checks&amp;checkDetail={evaluation.check_name}"
        item = page[
            page.index(f'<li class="finding finding-warning"><span class="severity">warning</span> <strong>{asset}') :
        ]
        assert evaluation.description in html.unescape(item.split("</li>", 1)[0])
        assert f'<a href="{link}">the check in Dagster</a>' in item.split("</li>", 1)[0]


def test_the_trends_show_every_scored_month_with_its_figures(
    client: TestClient, store: ArtifactStore, instance: dg.DagsterInstance
) -> None:
    log_in(client, "victor")
    page = client.get("/").text
    assert re.findall(r'<tr class="trend" id="trend-([\d-]+)">', page) == [SECOND, FIRST]  # the history is not scored
    for month in (SECOND, FIRST):
        row = page[page.index(f'id="trend-{month}"') :].split("</tr>", 1)[0]
        approved = (forecasts_of(store, month)["decision"] == "approve").mean()
        performance = status.latest_metadata(instance, "forecast_performance", month)[1]
        in_the_large = performance["in_the_large"]
        assert f"{100 * approved:.1f} %" in row and f"{performance['roc_auc']:.3f}" in row
        assert f"{100 * in_the_large['observed_rate']:.1f} % / {100 * in_the_large['expected_rate']:.1f} %" in row
        assert re.search(r'<span class="[^"]*">\d\.\d\d</span> <span class="small">\w+ [^<]+</span>', row)
    assert page.count('<svg class="sparkline"') == 4


def test_a_summary_is_refused_for_an_unknown_or_unscored_month_and_audited(
    client: TestClient, store: ArtifactStore
) -> None:
    assert client.get(f"/months/{SECOND}").headers["location"] == "/login"
    log_in(client, "olga")
    history = client.get(f"/months/{HISTORY}")
    assert history.status_code == 404 and "history month" in history.text and "no summary" in history.text
    for month in ("2019-01", "x" * 5_000):
        answer = client.get(f"/months/{month}")
        assert answer.status_code == 404 and "is not a month the pipeline scores" in answer.text
        assert len(answer.text) < 10_000  # the month is echoed bounded
    entries = audit_log(store).entries()
    assert [(e["action"], e["outcome"]) for e in entries[-3:]] == [("summary", "refused: not there yet")] + [
        ("summary", "refused: unknown month")
    ] * 2
    assert entries[0]["action"] == "summary" and entries[0]["outcome"] == "refused: not logged in"
