"""The test suite. Runs that sensors, schedules and daemons launch take the deployment's approval rule: the tests
that judge other things than change control need their months scored without a person approving each champion,
so the suite's deployment says `none` (every such champion is logged as unapproved); test_model_risk.py and the
Models page tests run the model_risk approval itself."""

import os

os.environ.setdefault("CREDIT_ASSETS_MODEL_DEFAULTS", '{"approval": "none"}')
