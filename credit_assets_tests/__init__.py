"""The test suite. Runs that sensors, schedules, daemons and the UI launch take the deployment's model settings
(CREDIT_ASSETS_MODEL_DEFAULTS); the suite's deployment is a small and quick one: approval `none`, so the tests that
judge other things than change control have their months scored without a person approving each champion (every
such champion is logged as unapproved; test_model_risk.py and the Models page tests run the model_risk approval
itself), and brief tuning and searching on one LightGBM thread (OpenMP threads that spin for a busy core slow
training tens of times), at the platform's review cadence."""

import json
import os

TEST_DEPLOYMENT_MODEL = {
    "approval": "none",
    "optuna_trials": 2,
    "max_boost_rounds": 200,
    "early_stopping_rounds": 20,
    "num_threads": 1,
    "lda_proxies": 1,
}
os.environ.setdefault("CREDIT_ASSETS_MODEL_DEFAULTS", json.dumps(TEST_DEPLOYMENT_MODEL))
