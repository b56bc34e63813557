"""A model card's training window as the tests build it: a split month (2020-09) shared by training and validation."""

WINDOW = {
    "train_months": ["2020-08", "2020-09"],
    "validation_months": ["2020-09", "2020-10"],  # 2020-09 is split: older rows train, newer rows validate
    "train_rows": 2750,
    "validation_rows": 2750,
    "validation_defaults": 237,
    "validation_first_id": 103148,
    "min_validation_defaults": 500,
    "max_validation_share": 0.5,
    "validation_sufficient": False,
    "train_sha256": "a" * 64,
    "validation_sha256": "b" * 64,
}
