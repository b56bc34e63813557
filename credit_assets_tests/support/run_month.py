"""Materialise one month in a separate process, so a test can kill it.

`python -m credit_assets_tests.support.run_month ROOT MONTH MODEL_CONFIG ASSET...`
"""

import json
import sys

from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.materialise import materialize_month

if __name__ == "__main__":
    root, month, model_config, *selection = sys.argv[1:]
    result = materialize_month(StorageResource(root=root), month, selection, model_config=json.loads(model_config))
    sys.exit(0 if result.success else 1)
