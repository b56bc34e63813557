"""The documentation pack's HTML read back as a reviewer reads it, without Dagster."""

import json
from html.parser import HTMLParser
from typing import Any

import pytest

from credit_assets.core.features import feature_names
from credit_assets.core.modeling.calibration import CalibrationReport
from credit_assets.core.modeling.card import ModelCard, TrainingWindow
from credit_assets.core.modeling.change_control import MonthRecord
from credit_assets.core.modeling.comparison import COLUMNS
from credit_assets.core.modeling.documentation import PackInputs, p_text, render
from credit_assets_tests.support.browser import chromium
from credit_assets_tests.support.cards import WINDOW

VERSION = "lightgbm-0123456789abcdef"
FEATURES = feature_names()  # all of them: their long names are what makes the feature table wide
# Gains across the thousands boundary, where a per-value format gave "12,346" beside "95.0407".
IMPORTANCE = [
    {"feature": FEATURES[0], "gain": 12345.678, "splits": 120},
    {"feature": FEATURES[1], "gain": 95.0407, "splits": 7},
    {"feature": FEATURES[2], "gain": 0.5, "splits": 1},
]


def group(name: str, count: int, approval: float, air: float | None, p: float | None, holm: float | None) -> dict:
    return {
        "group": name,
        "count": count,
        "approval_rate": approval,
        "mean_probability": 0.08,
        "default_rate": 0.07,
        "roc_auc": 0.7,
        "true_positive_rate": 0.5,
        "false_positive_rate": 0.2,
        "adverse_impact_ratio": air,
        "p_value": p,
        "p_holm": holm,
        "flagged": bool(air is not None and air < 0.8 and holm is not None and holm < 0.05),
        "excluded_from_limits": None,
    }


FAIRNESS = {
    "month": "2020-11",
    "rows": 1500,
    "labelled": True,
    "limits": {"air_limit": 0.8, "min_group_size": 20, "significance": 0.05},
    "attributes": {
        "age_band": {
            "reference_group": "35-44",
            "groups": [
                group("<25", 77, 0.4675, 0.6696, 8.1e-09, 0.0),
                group("35-44", 391, 0.6982, 1.0, None, None),
            ],
        },
        "sex": {
            "reference_group": "M",
            "groups": [group("F", 988, 0.7186, 0.976, 0.2529, 1.0), group("M", 512, 0.7363, 1.0, None, None)],
        },
    },
}
IN_THE_LARGE = {
    "rows": 1500,
    "expected_defaults": 126.3,
    "observed_defaults": 125,
    "expected_rate": 0.0842,
    "observed_rate": 0.0833,
    "tested": True,
    "z": -0.12,
    "p_value": 0.9,
    "passed": True,
    "detectable_excess": 0.31,
}
PERFORMANCE = {
    "month": "2020-11",
    "labelled": True,
    "roc_auc": 0.70,
    "brier": 0.07,
    "positive_rate": 0.0833,
    "mean_predicted": 0.0842,
    "in_the_large": IN_THE_LARGE,
    "approved_in_the_large": {**IN_THE_LARGE, "rows": 1087, "p_value": 0.03, "passed": False},
}


def stored(payload: Any) -> Any:
    """A payload as the store reads it back: JSON with sorted keys (so stored rows come in alphabetical order)."""
    return json.loads(json.dumps(payload, sort_keys=True))


CALIBRATION = CalibrationReport("sigmoid", 1375, {"none": 0.27, "sigmoid": 0.26}, 0.031, 0.012, 0.27, 0.26)


def card(window: dict[str, Any], version: str = VERSION) -> ModelCard:
    return ModelCard(
        "2020-11", "lightgbm", TrainingWindow(**window), {"lambda_l1": 2.3e-05}, {"source": "defaults"}, 0, 1, 20,
        FEATURES, {"roc_auc": 0.74}, IMPORTANCE, CALIBRATION, version,
    )  # fmt: skip


def pack(**changes: Any) -> PackInputs:
    decision = {
        "rule": "highest validation AUC",
        "sequence": 2,
        "decided_at": "2026-12-03T13:26:46+00:00",
        "trigger": {"run_id": "89af4717", "tags": {"dagster/partition": "2020-11"}},
        "candidates": [{"version": VERSION, "verdicts": {"champion_gate": {"passed": True, "description": "ok"}}}],
    }
    inputs = {
        "decision": MonthRecord.of(decision),
        "champion": card(WINDOW),
        "challengers": [],
        "previous": card({**WINDOW, "train_months": ["2020-08"], "validation_months": ["2020-08", "2020-09"]}, "old"),
        "trials": [
            {"number": 0, "state": "COMPLETE", "validation_auc": 0.7543, "params_lambda_l1": 2.3e-05},
            {"number": 1, "state": "COMPLETE", "validation_auc": 0.7445, "params_lambda_l1": 0.6246},
        ],
        "comparison": [{column: 0.7031 for column in COLUMNS} | {"version": VERSION, "role": "champion"}],
        "economics": None,
        "drift": None,
        "fairness": stored(FAIRNESS),
        "performance": stored(PERFORMANCE),
    }
    return PackInputs(**inputs | changes)


class Tables(HTMLParser):
    """Every table of a page as its class, header row and body rows of cell texts."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self.part, self.in_cell = "rows", False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"class": dict(attrs).get("class"), "head": [], "rows": []})
        elif tag in ("thead", "tbody"):
            self.part = "head" if tag == "thead" else "rows"
        elif tag == "tr":
            self.tables[-1][self.part].append([])
        elif tag in ("td", "th"):
            self.tables[-1][self.part][-1].append("")
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        self.in_cell = self.in_cell and tag not in ("td", "th")

    def handle_data(self, data: str) -> None:
        if self.in_cell:
            self.tables[-1][self.part][-1][-1] += data


def tables(text: str) -> list[dict[str, Any]]:
    return Tables(text).tables


def items(found: dict[str, Any]) -> dict[str, list[str]]:
    """A table's rows by their first cell (facts: item -> [value]; the change log: what -> [before, after])."""
    return {row[0]: row[1:] for row in found["rows"]}


def facts_with(text: str, item: str) -> dict[str, str]:
    """The facts table holding `item`, as item -> value."""
    found = next(found for found in tables(text) if not found["head"] and item in items(found))
    return {key: value for key, (value,) in items(found).items()}


def table_with(text: str, header: str) -> dict[str, Any]:
    return next(found for found in tables(text) if found["head"] and header in found["head"][0])


def column(found: dict[str, Any], name: str) -> list[str]:
    return [row[found["head"][0].index(name)] for row in found["rows"]]


def test_triggered_by_is_a_definition_list_not_json() -> None:
    text = render(pack())
    trigger = facts_with(text, "triggered by")["triggered by"]
    assert "{" not in trigger and '"' not in trigger
    assert "<dt>run_id</dt><dd>89af4717</dd>" in text and "<dt>dagster/partition</dt><dd>2020-11</dd>" in text


@pytest.mark.parametrize(
    ("p", "text"), [(0.0, "< 1e-300"), (8.1e-09, "8.1e-09"), (0.00049, "4.9e-04"), (0.0516, "0.052"), (1.0, "1")]
)
def test_p_values_keep_their_significant_digits(p: float, text: str) -> None:
    assert p_text(p) == text


def test_fairness_table_reads_attribute_group_then_the_judged_figures_with_p_values_never_zero() -> None:
    text = render(pack())
    fairness = table_with(text, "AIR")
    assert fairness["head"][0] == ["attribute", "group", "n", "approved", "AIR", "p", "p (Holm)", "flagged", "note"]
    assert [row[:2] for row in fairness["rows"]] == [
        ["age_band", "<25"],
        ["age_band", "35-44"],
        ["sex", "F"],
        ["sex", "M"],
    ]
    assert column(fairness, "p") == ["8.1e-09", "", "0.25", ""]
    assert column(fairness, "p (Holm)") == ["< 1e-300", "", "1", ""]
    assert table_with(text, "mean PD")["head"][0][:2] == ["attribute", "group"]


def test_no_nonzero_number_shows_as_zero() -> None:
    text = render(pack())
    assert "0.0000" not in text
    assert column(table_with(text, "params lambda l1"), "params lambda l1") == ["2.30e-05", "6.25e-01"]
    assert "<dt>lambda_l1</dt><dd>2.30e-05</dd>" in text


def test_importance_columns_keep_one_format_each() -> None:
    features = table_with(render(pack()), "gain")
    gains = [value for value in column(features, "gain") if value]
    assert gains == ["12,346", "95", "0"]
    assert [value for value in column(features, "splits") if value] == ["120", "7", "1"]


def test_a_split_month_is_listed_once_with_the_split_point() -> None:
    text = render(pack())
    window = facts_with(text, "training months")
    assert (window["training months"], window["validation months"]) == ("2020-08", "2020-10")
    assert window["split month"] == "2020-09 (rows before SK_ID_CURR 103148 train, the rest validate)"
    change = items(table_with(text, "before"))
    assert change["training months"] == ["none", "2020-08"] and change["validation months"] == ["2020-09", "2020-10"]
    assert [month[:7] for month in change["split month"]] == ["2020-08", "2020-09"]


def test_wide_tables_get_the_fitting_layout_and_the_page_has_print_rules() -> None:
    text = render(pack())
    assert table_with(text, "AIR")["class"] == "wide" and table_with(text, "before")["class"] is None
    for rule in (
        "table.wide{font-size:.75em;table-layout:fixed;width:100%}",
        "overflow-wrap:break-word",
        "@media print",
    ):
        assert rule in text


# A 1000px window, and the text width of A4 and of US letter with the pack's 12 mm print margins at 96 dpi.
PAGES = [("screen", 1000), ("print", 703), ("print", 725)]


def test_every_table_fits_a_screen_and_a_printed_page() -> None:
    text = render(pack())
    with chromium() as browser:
        for media, width in PAGES:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.emulate_media(media=media)
            page.set_content(text)
            overflowing = page.evaluate(
                """() => [...document.querySelectorAll('table, td, th')]
                    .filter(box => box.scrollWidth > box.clientWidth + 1
                        || box.getBoundingClientRect().right > document.body.getBoundingClientRect().right + 1)
                    .map(box => box.textContent.slice(0, 40))"""
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (media, width)
            assert overflowing == [], (media, width)
            page.close()


def test_calibration_in_the_large_shows_both_populations() -> None:
    found = table_with(render(pack()), "expected defaults")
    assert column(found, "applicants") == ["all applicants", "approved applicants"]
    assert column(found, "p value") == ["0.9", "0.03"] and column(found, "passed") == ["True", "False"]
    # Stored before calibration in the large was measured: neither key exists.
    unmeasured = stored({key: value for key, value in PERFORMANCE.items() if "in_the_large" not in key})
    assert "Calibration in the large" not in render(pack(performance=unmeasured))


def test_the_window_says_what_the_deployed_model_trained_on() -> None:
    refit = {
        **WINDOW,
        "refit_on_all_labels": True,
        "deployed_train_months": ["2020-08", "2020-09", "2020-10"],
        "deployed_train_rows": 9000,
        "deployed_train_defaults": 731,
    }
    window = facts_with(render(pack(champion=card(refit))), "training months")
    assert window["deployed model"].startswith("refit on every labelled row")
    assert window["deployed model's rows"] == "9000 (731 defaults)"
    assert "deployed model" not in facts_with(render(pack()), "training months")  # a card from before the refit
