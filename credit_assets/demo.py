"""The quick start's demo: generate demo months when the landing folder is empty, then run each month in order."""

import os
from dataclasses import replace
from pathlib import Path

import dagster as dg

from credit_assets.core.blobs import write_text
from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import read_landing_csv
from credit_assets.core.databases import decision_log_url
from credit_assets.core.decisions.log import DecisionLog
from credit_assets.core.decisions.tokens import Scope, TokenStore
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.months import landing_file_name, month_of_landing_file
from credit_assets.core.store import GENERATOR_TRUTH, LANDING, UPLOAD_EXAMPLE, ArtifactStore
from credit_assets.definitions import defs
from credit_assets.defs.assets.raw_applications import last_materialisation
from credit_assets.defs.jobs import job_for_month
from credit_assets.portal.users import Role, UserStore, generate_password
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files

DEMO_SEED = 7
DEMO_USER = "demo"
VALIDATOR = "validator"  # the demo's model_risk user
UNDERWRITER = "underwriter"  # decides the decision service's referrals in the portal
DEMO_CLIENT = "demo-client"  # the decision API token of the printed example request
REQUEST_EXAMPLE = "decision_request.json"


def folder(storage: ArtifactStore, name: str) -> Path:
    """A folder of the demo's store, which is local (the demo's embedded defaults) and written as files."""
    found = storage.local_folder(name)
    if found is None:
        where = storage.location("")
        raise ValueError(f"the demo runs on a local store, not {where}: unset CREDIT_ASSETS_STORAGE_ROOT")
    return found


def landed_months(storage: ArtifactStore) -> list[str]:
    months = (month_of_landing_file(name) for name in storage.landing_names())
    return sorted(month for month in months if month)


def already_materialised(instance: dg.DagsterInstance, storage: ArtifactStore, month: str) -> bool:
    """True when a successful run already materialised exactly this landing file."""
    last = last_materialisation(instance, month)
    if last is None:
        return False
    run = instance.get_run_by_id(last[1])
    return last[0] == storage.landing_sha256(landing_file_name(month)) and run is not None and run.is_success


def land_demo_months(storage: ArtifactStore) -> None:
    """Generate the demo months into the landing folder, the newest one into the upload example folder."""
    config = GeneratorConfig.at_scale("demo", seed=DEMO_SEED)
    config = replace(config, months=config.months + 1)
    landing, example = folder(storage, LANDING), folder(storage, UPLOAD_EXAMPLE)
    generate_landing_files(config, landing, folder(storage, GENERATOR_TRUTH))
    newest = landing_file_name(config.month_keys[-1])
    example.mkdir(parents=True, exist_ok=True)
    os.replace(landing / newest, example / newest)
    print(f"kept {newest} back for a first upload through the portal: {example / newest}")


def awaiting_first_champion(storage: ArtifactStore) -> str | None:
    """The candidate the months wait for: proposed, not yet decided, with no champion in force before it."""
    state = ModelRegistry(storage.blobs).state()
    return state.pending["proposed"] if state.pending and state.champion is None else None


def run_demo(instance: dg.DagsterInstance) -> None:
    """Land demo files if there are none and run every landed month that is not materialised yet, oldest first,
    until a month waits for its first champion's approval (the approval sensor runs the rest once it is given)."""
    storage = defs.resources["storage"].store
    if not landed_months(storage):
        land_demo_months(storage)
    for month in landed_months(storage):
        if already_materialised(instance, storage, month):
            print(f"{month}: already materialised, skipped")
            continue
        job = defs.resolve_job_def(job_for_month(month))
        result = job.execute_in_process(partition_key=month, instance=instance, raise_on_error=False)
        print(f"{month}: {job.name} {'succeeded' if result.success else 'FAILED'} (run {result.run_id})")
        if not result.success and (candidate := awaiting_first_champion(storage)):
            print(
                f"{month}: candidate {candidate} awaits approval by a model_risk user: log in to the portal as "
                f"{VALIDATOR}, open Models, read its documentation pack and approve or reject it with a comment; "
                "once approved, the approval sensor runs this month and the later ones with it"
            )
            return
        if not result.success:
            raise SystemExit(f"The demo run of {month} failed; open the UI (run {result.run_id}) to see why.")


def ensure_demo_user(users: UserStore, name: str = DEMO_USER, role: Role = Role.UPLOADER) -> None:
    """Create a portal demo user with a random password printed once; never a default password."""
    if users.get(name) is not None:
        reset = f"python3 dev.py add-user {name} --role {role} --replace"
        print(f"portal user {name} exists (a new password: {reset})")
        return
    password = generate_password()
    users.add(name, role, password)
    print(f"portal login (shown once, stored only as a hash): user {name} ({role}), password {password}")


def ensure_demo_users(users: UserStore) -> None:
    """The uploader, the validator who approves champions (a second person, as change control requires) and the
    underwriter who decides referrals."""
    ensure_demo_user(users)
    ensure_demo_user(users, VALIDATOR, Role.MODEL_RISK)
    ensure_demo_user(users, UNDERWRITER, Role.UNDERWRITER)


def ensure_demo_client(storage: ArtifactStore) -> None:
    """The example request (the kept-back month's first application) and a decide token for it, printed once."""
    example = folder(storage, UPLOAD_EXAMPLE)
    kept = sorted(example.glob(landing_file_name("*")))
    if kept:
        raw = read_landing_csv(kept[-1]).drop(columns=schema.TARGET_COLUMN, errors="ignore")
        write_text(example / REQUEST_EXAMPLE, raw.head(1).to_json(orient="records", lines=True))
    tokens = TokenStore(DecisionLog(decision_log_url(storage.location(""))))
    if any(token.name == DEMO_CLIENT and not token.revoked_at for token in tokens.tokens()):
        renew = f"python3 dev.py tokens revoke {DEMO_CLIENT} && python3 dev.py tokens create {DEMO_CLIENT}"
        print(f"api token {DEMO_CLIENT} exists (a new one: {renew})")
        return
    print(f"api token (shown once, stored only as a hash): {tokens.create(DEMO_CLIENT, Scope.DECIDE)[1]}")
