"""The `credit-assets` command line: one subcommand per entry of SUBCOMMANDS."""

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from credit_assets.core.months import FIRST_MONTH
from credit_assets.core.store import ArtifactStore, default_root
from credit_assets.synthetic.generate import SCALES, GeneratorConfig, generate_landing_files
from credit_assets.synthetic.split_real import BLOCK_ROWS, MONTHLY_BLOCKS, split_real

_SIZE_OPTIONS = ("history_rows", "months", "rows_per_month")
_STORAGE = ArtifactStore(Path(default_root()).resolve())


@dataclass(frozen=True)
class Subcommand:
    """A subcommand: its name, one-line help, how it declares its arguments and what it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Every GeneratorConfig option, the scale preset and the two output folders."""
    presets = ", ".join(
        f"{name} ({rows['history_rows']:,} + {rows['months']} x {rows['rows_per_month']:,})"
        for name, rows in SCALES.items()
    )
    parser.add_argument("--scale", choices=[*SCALES, "custom"], default="demo", help=f"{presets} or custom")
    parser.add_argument("--history-rows", type=int, help="rows of the history file (--scale custom)")
    parser.add_argument("--months", type=int, help="monthly files after the history (--scale custom)")
    parser.add_argument("--rows-per-month", type=int, help="rows of each monthly file (--scale custom)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-month", default=FIRST_MONTH, help="month key (YYYY-MM) of the history file")
    parser.add_argument(
        "--label-latest",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="whether the latest file has TARGET",
    )
    parser.add_argument("--drift-month", help="month key whose file gets covariate drift")
    parser.add_argument("--drift-columns", nargs="+", default=[], metavar="COLUMN", help="columns to drift")
    parser.add_argument(
        "--drift-strength", type=float, default=1.0, help="standard deviations for numbers, flattening for text"
    )
    parser.add_argument("--disparity-month", help="month key whose file gets a planted real disparity")
    parser.add_argument("--disparity-group", default="CODE_GENDER=M", help="COLUMN=LEVEL of the disadvantaged group")
    parser.add_argument(
        "--disparity-strength", type=float, default=1.0, help="standard deviations the group's credit scores drop"
    )
    parser.add_argument("--landing-dir", type=Path, default=_STORAGE.landing_dir)
    parser.add_argument(
        "--truth-dir", type=Path, default=_STORAGE.generator_truth_dir, help="for the true default probabilities"
    )


def _generator_config(args: argparse.Namespace) -> GeneratorConfig:
    """The config the arguments describe; explicit sizes only with --scale custom."""
    sizes = {name: getattr(args, name) for name in _SIZE_OPTIONS if getattr(args, name) is not None}
    custom = args.scale == "custom"
    if (custom and len(sizes) < len(_SIZE_OPTIONS)) or (sizes and not custom):
        raise ValueError("--scale custom takes --history-rows, --months and --rows-per-month, all three")
    options = {
        "seed": args.seed,
        "first_month": args.first_month,
        "label_latest": args.label_latest,
        "drift_month": args.drift_month,
        "drift_columns": tuple(args.drift_columns),
        "drift_strength": args.drift_strength,
        "disparity_month": args.disparity_month,
        "disparity_group": args.disparity_group,
        "disparity_strength": args.disparity_strength,
    }
    return GeneratorConfig(**sizes, **options) if custom else GeneratorConfig.at_scale(args.scale, **options)


def _run_generate(args: argparse.Namespace) -> int:
    """Write the landing and probability files and list the landing files."""
    for path in generate_landing_files(_generator_config(args), args.landing_dir, args.truth_dir):
        print(path)
    return 0


def _add_split_real_arguments(parser: argparse.ArgumentParser) -> None:
    """The real file, the landing folder and the size override."""
    parser.add_argument("path", type=Path, help="the real application_train.csv")
    parser.add_argument("--landing-dir", type=Path, default=_STORAGE.landing_dir)
    parser.add_argument(
        "--any-size",
        action="store_true",
        help="accept another row count than the real file's (a sample of it)",
    )
    parser.add_argument("--rows-per-month", type=int, default=BLOCK_ROWS, help="rows of each monthly file")
    parser.add_argument("--months", type=int, default=MONTHLY_BLOCKS, help="monthly files after the history")


def _run_split_real(args: argparse.Namespace) -> int:
    """Cut the real file into landing files and list them."""
    split = split_real(
        args.path, args.landing_dir, any_size=args.any_size, block_rows=args.rows_per_month, months=args.months
    )
    for path in split:
        print(path)
    return 0


def _run_demo(_args: argparse.Namespace) -> int:
    """Land demo months when none are there and run every landed month into the Dagster instance."""
    import dagster as dg  # loading the definitions is slow; only this subcommand needs them

    from credit_assets.demo import run_demo

    with dg.DagsterInstance.get() as instance:
        run_demo(instance)
    return 0


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "generate",
        "write synthetic landing files and their true default probabilities",
        _add_generate_arguments,
        _run_generate,
    ),
    Subcommand(
        "split-real",
        "cut the real application_train.csv into the article's monthly landing files",
        _add_split_real_arguments,
        _run_split_real,
    ),
    Subcommand(
        "demo",
        "land demo months if none are there and run each landed month in order (needs DAGSTER_HOME)",
        lambda _parser: None,
        _run_demo,
    ),
)


def _parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per entry of SUBCOMMANDS."""
    parser = argparse.ArgumentParser(prog="credit-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for subcommand in SUBCOMMANDS:
        command = commands.add_parser(subcommand.name, help=subcommand.help, description=subcommand.help)
        subcommand.add_arguments(command)
        command.set_defaults(run=subcommand.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named in `argv` (default: the process arguments); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        parser.exit(2, f"credit-assets {args.command}: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
