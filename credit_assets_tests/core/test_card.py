"""Model cards are typed records that read back and write out the very bytes the registry hashed, old ones too."""

import json

from credit_assets.core.modeling.calibration import CalibrationReport
from credit_assets.core.modeling.card import ModelCard, TrainingWindow
from credit_assets_tests.support.cards import WINDOW

CALIBRATION = {
    "method": "sigmoid",
    "held_out_rows": 1375,
    "held_out_log_loss": {"isotonic": 0.262, "none": 0.27, "sigmoid": 0.26},
    "ece_before": 0.031,
    "ece_after": 0.012,
    "log_loss_before": 0.27,
    "log_loss_after": 0.26,
}
REFIT = {
    "refit_on_all_labels": True,
    "deployed_train_months": ["2020-08", "2020-09", "2020-10"],
    "deployed_train_rows": 5500,
    "deployed_train_defaults": 480,
}


def card_text(window: dict, calibration: dict) -> str:
    """A card as the registry stores it."""
    card = {
        "month": "2020-11",
        "family": "lightgbm",
        "window": window,
        "params": {"lambda_l1": 2.3e-05},
        "params_provenance": {"source": "defaults"},
        "seed": 42,
        "num_threads": 2,
        "best_iteration": 20,
        "features": ["EXT_SOURCE_2"],
        "validation_metrics": {"roc_auc": 0.74},
        "importance": [{"feature": "EXT_SOURCE_2", "gain": 1.5, "splits": 3}],
        "calibration": calibration,
        "version": "lightgbm-0123456789abcdef",
    }
    return json.dumps(card, indent=2, sort_keys=True)


def test_a_current_card_reads_back_typed_and_writes_the_same_bytes() -> None:
    text = card_text({**WINDOW, **REFIT}, {**CALIBRATION, "held_out_gain_standard_error": {"sigmoid": 0.001}})
    card = ModelCard.from_json(text)
    assert isinstance(card.window, TrainingWindow) and isinstance(card.calibration, CalibrationReport)
    assert card.window.refit and card.window.deployed_months == ["2020-08", "2020-09", "2020-10"]
    assert card.calibration.held_out_gain_standard_error == {"sigmoid": 0.001}
    assert card.to_json() == text


def test_a_card_from_before_the_refit_and_the_material_gain_rule_reads_back_unchanged() -> None:
    text = card_text(WINDOW, CALIBRATION)
    card = ModelCard.from_json(text)
    assert card.window.refit_on_all_labels is None and not card.window.refit
    assert card.window.deployed_months == card.window.train_months  # its model is the fit on the training rows
    assert card.calibration.held_out_gain_standard_error is None
    assert card.to_json() == text  # nothing it lacked is written back as null
