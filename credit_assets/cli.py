"""The `credit-assets` command line: one subcommand per entry of SUBCOMMANDS."""

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from credit_assets.core.databases import studies_url
from credit_assets.core.decisions.tokens import Scope as TokenScope
from credit_assets.core.modeling import change_control
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.months import FIRST_MONTH, checked_month, history_note
from credit_assets.core.scoring import Cutoffs
from credit_assets.core.store import GENERATOR_TRUTH, LANDING, ArtifactStore, default_root
from credit_assets.portal.audit import AuditLogBroken
from credit_assets.portal.security import default_secrets_dir
from credit_assets.portal.users import Role, UserStore
from credit_assets.synthetic.generate import SCALES, GeneratorConfig, generate_landing_files
from credit_assets.synthetic.split_real import BLOCK_ROWS, MONTHLY_BLOCKS, split_real

if TYPE_CHECKING:
    from credit_assets.api.app import ServiceSettings
    from credit_assets.portal.web import PortalSettings

_SIZE_OPTIONS = ("history_rows", "months", "rows_per_month")
_STORAGE = ArtifactStore.at(default_root())


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
    _add_local_folder_argument(parser, "--landing-dir", LANDING, "where the landing files are written")
    _add_local_folder_argument(parser, "--truth-dir", GENERATOR_TRUTH, "for the true default probabilities")


def _add_local_folder_argument(parser: argparse.ArgumentParser, flag: str, name: str, what: str) -> None:
    """A folder the command writes files to: by default the local store's, required when the store is remote (copy
    the files into its landing area then, e.g. `aws s3 cp`)."""
    default = _STORAGE.local_folder(name)
    parser.add_argument(flag, type=Path, default=default, required=default is None, help=what)


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
    _add_local_folder_argument(parser, "--landing-dir", LANDING, "where the landing files are written")
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
    """Land demo months when none are there, run the landed months into the Dagster instance, make the demo users."""
    import dagster as dg  # loading the definitions is slow; only this subcommand needs them

    from credit_assets.demo import ensure_demo_client, ensure_demo_users, run_demo

    with dg.DagsterInstance.get() as instance:
        run_demo(instance)
    ensure_demo_users(_users(default_root()))
    ensure_demo_client(_STORAGE)
    return 0


def _users(root: str) -> UserStore:
    return UserStore(ArtifactStore.at(root).portal_users_file)


def _add_user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="user name: 2-32 lower-case letters, digits, '_', '.', '-'")
    parser.add_argument("--role", choices=[role.value for role in Role], required=True)
    parser.add_argument("--replace", action="store_true", help="set a new password and role for an existing user")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input instead of generating one"
    )
    parser.add_argument("--root", default=default_root(), help="storage root: a folder or an s3:// URL")


def _run_add_user(args: argparse.Namespace) -> int:
    """Add a portal user; a generated password is printed once and stored only as its hash."""
    from credit_assets.portal.users import generate_password

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else generate_password()
    user = _users(args.root).add(args.name, Role(args.role), password, replace=args.replace)
    print(f"portal user {user.name} ({user.role.value}) saved")
    if args.replace:  # a new password or role ends every session opened with the old one
        print(f"{_portal_settings(args).sessions().revoke_user(user.name)} open session(s) of {user.name} ended")
    if not args.password_stdin:
        print(f"password (shown once, stored only as a hash): {password}")
    return 0


def _add_portal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=default_root(), help="storage root: a folder or an s3:// URL")
    parser.add_argument("--host", default="127.0.0.1", help="bind address; anything else belongs behind TLS")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dagster-url", default="http://127.0.0.1:3000", help="the Dagster UI, for engineers' links")
    parser.add_argument("--max-upload-mib", type=int, default=512, help="largest accepted file")
    parser.add_argument(
        "--https-only", action="store_true", help="behind a TLS proxy: session cookie only over HTTPS, and HSTS"
    )
    parser.add_argument("--idle-minutes", type=int, default=30, help="a session unused this long ends")
    parser.add_argument(
        "--referral-alert-hours", type=int, default=48, help="a referral waiting longer is flagged on the queue"
    )
    parser.add_argument(
        "--trusted-proxy",
        metavar="ADDRESS",
        help="the TLS proxy's address: clients' addresses are then read from its X-Forwarded-For header",
    )


def _run_portal(args: argparse.Namespace) -> int:
    """Serve the portal with uvicorn (needs DAGSTER_HOME: month states are read from that instance)."""
    import uvicorn

    from credit_assets.portal.app import create_app
    from credit_assets.portal.web import PortalSettings

    settings = PortalSettings(
        args.root,
        default_secrets_dir(),
        args.dagster_url,
        max_upload_bytes=args.max_upload_mib << 20,
        https_only=args.https_only,
        session_idle_minutes=args.idle_minutes,
        referral_alert_hours=args.referral_alert_hours,
    )
    if not settings.users.users():
        print("the portal has no users yet: add one with `credit-assets add-user NAME --role uploader`")
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        proxy_headers=bool(args.trusted_proxy),  # else a forged X-Forwarded-For would pick the audited address
        forwarded_allow_ips=args.trusted_proxy or "",
        server_header=False,
    )
    return 0


def _portal_settings(args: argparse.Namespace) -> "PortalSettings":
    """The portal's settings for a command run beside it (its web layer is imported only when needed: slow)."""
    from credit_assets.portal.web import PortalSettings

    return PortalSettings(args.root, default_secrets_dir())


def _add_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=default_root(), help="storage root: a folder or an s3:// URL")


def _add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["verify", "archive"], help="check every line / start a new chain")
    _add_root_argument(parser)


def _run_audit(args: argparse.Namespace) -> int:
    """Check the portal's audit log (every seal, link and the anchored head), or archive a damaged one."""
    log = _portal_settings(args).audit_log()
    if args.action == "archive":
        kept = log.archive()
        print(f"audit log archived as {kept}; a new chain starts" if kept else "no audit log to archive")
        return 0
    try:
        print(f"audit log intact: {log.verify():,} entries, every seal and link checked against the anchored head")
    except AuditLogBroken as broken:
        print(f"audit log DAMAGED at line {broken.broken.line or '(the newest)'}: {broken.broken.problem}")
        return 1
    return 0


def _add_sessions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "revoke"])
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", help="revoke this user's sessions")
    who.add_argument("--all", action="store_true", help="revoke every session")
    _add_root_argument(parser)


def _run_sessions(args: argparse.Namespace) -> int:
    """List the portal's open sessions or end them at once (a user's, or all)."""
    sessions = _portal_settings(args).sessions()
    if args.action == "list":
        for info in sessions.open_sessions():
            print(f"{info.user}: opened {_utc(info.created)}, last used {_utc(info.last_seen)}")
        return 0
    if not (args.user or args.all):
        raise ValueError("sessions revoke takes --user NAME or --all")
    ended = sessions.revoke_user(args.user) if args.user else sessions.revoke_all()
    print(f"{ended} session(s) ended")
    return 0


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    _add_root_argument(parser)
    parser.add_argument("--host", default="127.0.0.1", help="bind address; anything else belongs behind TLS")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1, help="processes (each decides its own micro-batches)")
    parser.add_argument("--review-cutoff", type=float, default=Cutoffs.review_cutoff)
    parser.add_argument("--decline-cutoff", type=float, default=Cutoffs.decline_cutoff)
    parser.add_argument("--max-batch", type=int, default=1_000, help="most applications in one request")
    parser.add_argument("--rate", type=float, default=500.0, help="applications per second per token")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often a new champion is looked for")
    parser.add_argument(
        "--trusted-proxy", metavar="ADDRESS", help="the proxy whose X-Forwarded-For names the audited client"
    )


def _service_settings(args: argparse.Namespace) -> "ServiceSettings":
    from credit_assets.api.app import ServiceSettings

    return ServiceSettings(
        args.root,
        default_secrets_dir(),
        cutoffs=Cutoffs(args.review_cutoff, args.decline_cutoff),
        max_batch=args.max_batch,
        rate_per_second=args.rate,
        poll_seconds=args.poll_seconds,
    )


def _run_serve(args: argparse.Namespace) -> int:
    """Serve the decision API with uvicorn: every decision logged before it is answered."""
    import os

    import uvicorn

    from credit_assets.api.app import SERVICE_SETTINGS_ENV

    settings = _service_settings(args)
    settings.log()  # the database answers and holds its tables before any worker starts
    os.environ[SERVICE_SETTINGS_ENV] = settings.to_json()  # uvicorn's workers build the app from it
    uvicorn.run(
        "credit_assets.api.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=bool(args.trusted_proxy),  # else a forged X-Forwarded-For would pick the audited address
        forwarded_allow_ips=args.trusted_proxy or "",
        server_header=False,
        access_log=False,  # the decision log is the record: an access line per decision would only cost time
    )
    return 0


def _add_tokens_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create", "revoke", "list"])
    parser.add_argument("name", nargs="?", help="the caller the token is for (create, revoke)")
    parser.add_argument("--scope", choices=[scope.value for scope in TokenScope], default=TokenScope.DECIDE.value)
    _add_root_argument(parser)


def _run_tokens(args: argparse.Namespace) -> int:
    """Create (shown once, stored as a hash), revoke or list the decision API's tokens."""
    from credit_assets.core.databases import decision_log_url
    from credit_assets.core.decisions.log import DecisionLog
    from credit_assets.core.decisions.tokens import TokenStore

    tokens = TokenStore(DecisionLog(decision_log_url(args.root)))
    if args.action == "list":
        for token in tokens.tokens():
            state = f"revoked {token.revoked_at}" if token.revoked_at else "live"
            print(f"{token.name} ({token.scope.value}): created {token.created_at}, {state}")
        return 0
    if not args.name:
        raise ValueError(f"tokens {args.action} takes the token's NAME")
    if args.action == "revoke":
        print(f"token {tokens.revoke(args.name).name} revoked: refused from now on")
        return 0
    token, text = tokens.create(args.name, TokenScope(args.scope))
    print(f"token {token.name} ({token.scope.value}) created; shown once, stored only as a hash:")
    print(text)
    return 0


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _add_models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", help="month key (YYYY-MM): which model scored it, and why")
    parser.add_argument("--root", default=default_root(), help="storage root: a folder or an s3:// URL")


def _candidate_line(candidate: dict, champion: str | None) -> str:
    role = "champion  " if candidate["version"] == champion else "challenger"
    auc = candidate["validation_metrics"]["roc_auc"]
    failed = [name for name, verdict in candidate["verdicts"].items() if not verdict["passed"]]
    calibration = candidate["calibration"]
    return (
        f"  {role} {candidate['version']:<28} validation AUC {auc:.4f}  calibration {calibration['method']} "
        f"(ECE {calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f})  "
        + (f"failed: {', '.join(failed)}" if failed else "passed every blocking check")
    )


def _scorable_month(month: str) -> str:
    """The month when a model can have scored it: a month key of the partitions, not the history month."""
    from credit_assets.defs.partitions import monthly_partitions  # imports Dagster: only --month needs it

    partitions = monthly_partitions.get_partition_keys()
    if checked_month(month) not in partitions:
        raise ValueError(f"{month} is not a month of the partitions, {partitions[0]} to {partitions[-1]}")
    if month == FIRST_MONTH:
        raise ValueError(history_note(month))
    return month


def _explain_month(store: ArtifactStore, registry: ModelRegistry, month: str) -> list[str]:
    """Which version scored the month (from its forecasts), the decision behind it and its triggers."""
    decision = registry.decision(_scorable_month(month))
    if decision is None:
        raise ValueError(f"no promotion decision for {month}: materialise model for {month} first")
    stored = store.has_table("forecasts", month)
    scored = sorted(store.read_table("forecasts", month, ["model_version"])["model_version"].unique()) if stored else []
    review = decision.review or {}
    lines = [
        f"{month} was scored by {', '.join(scored)}" if scored else f"{month} has no forecasts yet",
        f"decision #{decision.sequence} at {decision.decided_at}: {decision.champion or 'no champion'} "
        f"scores the month; {decision.why}",
        *(f"  trigger {t['kind']} ({t['month']}): {t['description']}" for t in review.get("triggers", [])),
        f"triggered by run {decision.trigger['run_id']} {decision.trigger['tags']}",
        *(_candidate_line(candidate, decision.champion) for candidate in decision.candidates),
    ]
    if decision.proposed:
        approval = decision.approval or {}
        lines.append(f"proposed {decision.proposed}: {approval.get('status')} ({approval.get('reason')})")
    if decision.champion and scored and scored != [decision.champion]:
        lines.append("WARNING: the forecasts predate the newest decision: materialise forecasts for the month again")
    return lines


def _run_models(args: argparse.Namespace) -> int:
    """List every registry version (checking its hashes) and why each champion is champion, or explain a month."""
    store = ArtifactStore.at(args.root)
    registry = ModelRegistry(store.blobs)
    if args.month:
        print("\n".join(_explain_month(store, registry, args.month)))
        return 0
    entries = registry.promotions()
    scored: dict[str, list[str]] = {}
    for entry in entries:
        if change_control.kind(entry) == change_control.MONTH and entry["champion"]:
            scored.setdefault(entry["champion"], []).append(entry["month"])
    print(f"{'version':<30}{'family':<11}{'trained for':<13}{'validation AUC':<16}{'calibration':<13}scored")
    for card in registry.cards():
        registry.verify(card.version)
        months = sorted(set(scored.get(card.version, [])))
        auc = card.validation_metrics["roc_auc"]
        print(
            f"{card.version:<30}{card.family:<11}{card.month:<13}{auc:<16.4f}{card.calibration.method:<13}"
            f"{', '.join(months) or '-'}"
        )
    state = change_control.fold(entries)
    print("\nWhy each champion is champion (oldest first):")
    print("\n".join(f"  {reign.why()}" for reign in change_control.reigns(entries)) or "  no champion yet")
    if state.pending:
        approval = state.pending.get("approval") or {}
        print(
            f"\nAwaiting approval: {state.pending['proposed']} (developed for {state.pending['month']}; "
            f"{approval.get('reason')}); {state.champion or 'no champion'} keeps scoring until model_risk decides"
        )
    return 0


def _add_dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=default_root(), help="storage root: a folder or an s3:// URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)


def _run_tuning_dashboard(args: argparse.Namespace) -> int:
    """Serve optuna-dashboard over the tuning studies (the deployment's database, or SQLite on a local store)."""
    from optuna_dashboard import run_server

    run_server(studies_url(ArtifactStore.at(args.root)), host=args.host, port=args.port)
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
    Subcommand(
        "models",
        "list the registry's model versions, or say which model scored a month and why (--month)",
        _add_models_arguments,
        _run_models,
    ),
    Subcommand(
        "portal",
        "serve the credit department's portal (http://127.0.0.1:8000 by default; needs DAGSTER_HOME)",
        _add_portal_arguments,
        _run_portal,
    ),
    Subcommand(
        "add-user",
        "add a portal user (uploader or viewer); prints a generated password once",
        _add_user_arguments,
        _run_add_user,
    ),
    Subcommand(
        "serve",
        "serve the decision API (http://127.0.0.1:8001 by default): one application or a batch per request",
        _add_serve_arguments,
        _run_serve,
    ),
    Subcommand(
        "tokens",
        "create (shown once), revoke or list the decision API's tokens (scope decide or read)",
        _add_tokens_arguments,
        _run_tokens,
    ),
    Subcommand(
        "audit",
        "verify the portal's audit log (reports the first damaged line), or archive a damaged one",
        _add_audit_arguments,
        _run_audit,
    ),
    Subcommand(
        "sessions",
        "list the portal's open sessions or revoke them (--user NAME or --all)",
        _add_sessions_arguments,
        _run_sessions,
    ),
    Subcommand(
        "tuning-dashboard",
        "browse the Optuna tuning studies in optuna-dashboard (http://127.0.0.1:8080 by default)",
        _add_dashboard_arguments,
        _run_tuning_dashboard,
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
