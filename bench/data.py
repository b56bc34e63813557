"""Benchmark data and storage roots: generated landing files, prepared roots and cheap copies of them."""

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from credit_assets.core.contract import schema
from credit_assets.core.months import landing_file_name
from credit_assets.synthetic.generate import SCALES, GeneratorConfig, generate_landing_files

FULL_ROWS = schema.REAL_ROW_COUNT  # 307,511
ARTICLE_MONTHS = SCALES["full"]["months"]  # 4 monthly files after the history
ARTICLE_MONTH_ROWS = SCALES["full"]["rows_per_month"]  # 10,000 rows each
DAGSTER_YAML = """\
storage:
  sqlite:
    base_dir:
      env: DAGSTER_HOME
telemetry:
  enabled: false
"""
LINKED = (("data", "landing"), ("data", "tables"))  # replaced only by atomic renames: copies may share them


def month_rows(total: int) -> int:
    """Rows of one monthly file at a total size: the article's 10,000 of 307,511, scaled."""
    return max(1, round(ARTICLE_MONTH_ROWS * total / FULL_ROWS))


def split(total: int, months: int, seed: int) -> GeneratorConfig:
    """`total` rows as a history file plus `months` monthly files of the scaled monthly size."""
    per_month = month_rows(total)
    history = total - months * per_month
    if history < per_month:
        raise ValueError(f"{total:,} rows are too few for {months} months of {per_month:,} rows and a history")
    return GeneratorConfig(seed=seed, history_rows=history, months=months, rows_per_month=per_month)


def generate(config: GeneratorConfig, folder: Path) -> dict[str, object]:
    """Landing files of `config` in folder/landing (reused when the folder holds exactly this config)."""
    stamp, wanted = folder / "config.json", json.loads(json.dumps(asdict(config)))
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return {"folder": str(folder), "seconds": None, "reused": True, **wanted}
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    generate_landing_files(config, folder / "landing", folder / "generator_truth")
    seconds = time.perf_counter() - start
    stamp.write_text(json.dumps(wanted))
    return {"folder": str(folder), "seconds": seconds, "reused": False, **wanted}


def new_root(landing: Path, root: Path) -> Path:
    """A fresh world: storage root root/data (landing files linked from `landing`), Dagster home root/dagster_home."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "data" / "landing").mkdir(parents=True)
    for path in sorted(landing.glob(landing_file_name("*"))):
        os.link(path, root / "data" / "landing" / path.name)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text(DAGSTER_YAML)
    return root


def clone(template: Path, root: Path) -> Path:
    """A private copy of a prepared world: landing files and tables hard-linked (written only by rename), the rest
    copied (SQLite files change in place)."""

    def link_or_copy(source: str, target: str) -> None:
        if Path(source).relative_to(template).parts[:2] in LINKED:
            os.link(source, target)
        else:
            shutil.copy2(source, target)

    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root, copy_function=link_or_copy)
    return root
