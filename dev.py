"""Quick start for a fresh machine with Python 3.11: `python3 dev.py demo` or `python3 dev.py test`.

Both create `.venv` and install the project when needed. `demo` generates demo months, runs them through
the pipeline into the project's own Dagster instance (SQLite under dagster_home/), creates the portal's demo
user and opens the Dagster UI and the portal on 127.0.0.1; `test` installs the Debian packages the
real-parts tests need (as root, when missing), checks the code with ruff and runs the whole test suite. Any
other command goes to the `credit-assets` command line inside `.venv` (for example `python3 dev.py split-real
application_train.csv`). Standard library only: it runs before anything is installed.
"""

import hashlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed-pyproject-sha256"
# every installed version, so a fresh machine gets today's set (python3 dev.py lock refreshes it)
LOCK = ROOT / "requirements.lock"
LOCK_HEADER = "# pip constraints for `pip install -e .[dev]` on Python 3.11, Linux; refresh: python3 dev.py lock\n"
USAGE = (
    "usage: python3 dev.py demo [--port N] [--portal-port N] [--api-port N] | test [PYTEST ARGS] | lock "
    "| COMMAND [ARGS] (a credit-assets command)"
)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(map(str, args)), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=True)


def ensure_environment() -> None:
    """Create the virtualenv and install the project with its dev extra at the locked versions, again on any change."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]", "--constraint", LOCK)
    STAMP.write_text(wanted)


def lock() -> None:
    """Resolve pyproject.toml afresh in a throwaway virtualenv and write every version it installed to the lock file."""
    fresh = ROOT / ".venv-lock"
    venv.EnvBuilder(with_pip=True, clear=True).create(fresh)
    run(fresh / "bin" / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    freeze = [fresh / "bin" / "python", "-m", "pip", "freeze", "--exclude-editable"]
    frozen = subprocess.run(freeze, check=True, capture_output=True, text=True).stdout
    pins = sorted(line for line in frozen.splitlines() if line and not line.startswith("credit-assets"))
    LOCK.write_text(LOCK_HEADER + "\n".join(pins) + "\n")
    print(f"wrote {len(pins)} pins to {LOCK.name}; commit it with pyproject.toml")


# Debian packages behind the real-parts tests: the browser test, PostgreSQL instance storage, the Celery broker.
SYSTEM_PACKAGES = {
    "chromium": "/usr/bin/chromium",
    "postgresql": "/usr/lib/postgresql/*/bin/initdb",
    "redis-server": "/usr/bin/redis-server",
}


def ensure_system_packages() -> None:
    """Install the missing Debian packages when this is root on Debian; elsewhere the tests say what to install."""
    missing = [name for name, path in SYSTEM_PACKAGES.items() if not list(Path("/").glob(path.lstrip("/")))]
    if not missing or os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


def project_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(ROOT / "dagster_home"))
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def option(args: list[str], name: str, default: str) -> str:
    return args[args.index(name) + 1] if name in args else default


FIRST_MONTH_SETTING = "CREDIT_ASSETS_FIRST_MONTH"  # read by credit_assets/core/months.py
# The demo's months: the history, four landed months and the newest, kept back for a first upload through the
# portal (credit_assets.demo: the demo scale's months and one more; the tests hold the two counts together).
DEMO_MONTHS = 6
LANDED_MONTH = re.compile(r"applications_(\d{4}-\d{2})\.csv")  # the landing convention of core/months.py
# The demo's own lines about the portal logins and the API token (credit_assets.demo): held back for the end.
LOGIN_LINES = ("portal ", "api ")
API_TOKEN = re.compile(r"ca_[0-9a-f]{16}_[A-Za-z0-9_-]+")


def latest_demo_start(today: date) -> str:
    """The history month that makes the demo's months the latest complete months before today."""
    index = today.year * 12 + today.month - 1 - DEMO_MONTHS
    return f"{index // 12}-{index % 12 + 1:02d}"


def demo_first_month(landing: Path, today: date) -> str:
    """The demo's history month: the earliest month already landed (an earlier demo's or split-real's months keep
    their partitions), else the start of the latest complete months."""
    landed = sorted(match.group(1) for path in landing.glob("*.csv") if (match := LANDED_MONTH.fullmatch(path.name)))
    return landed[0] if landed else latest_demo_start(today)


def demo_env(today: date) -> dict[str, str]:
    """The project's environment with the first month every demo process must agree on (an explicit setting wins)."""
    env = project_env()
    if FIRST_MONTH_SETTING in env:
        return env
    env[FIRST_MONTH_SETTING] = first = demo_first_month(ROOT / "data" / "landing", today)
    if first != latest_demo_start(today):
        print(
            f"data/landing holds months from {first}: the partitions start there and run to last month. For a demo "
            f"of the latest months ({latest_demo_start(today)} on), remove data/ and dagster_home/ first (keep "
            "data/README.md and dagster_home/dagster.yaml).",
            flush=True,
        )
    return env


def run_holding_back_login(command: list[str | Path], env: dict[str, str]) -> list[str]:
    """Run a command, echoing its output except the portal login lines, which are returned for the end."""
    print("+", " ".join(map(str, command)), flush=True)
    held = []
    with subprocess.Popen(
        [str(part) for part in command],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        for line in process.stdout:
            if line.startswith(LOGIN_LINES):
                held.append(line.rstrip("\n"))
            else:
                print(line, end="", flush=True)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return held


def answers(url: str) -> bool:
    """Whether a server answers at `url` with any HTTP response."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_until_answering(servers: dict[str, subprocess.Popen], timeout: float = 300) -> None:
    """Poll each server's URL until it answers; stop when a server's process ends first or the timeout passes."""
    deadline = time.monotonic() + timeout
    for url, process in servers.items():
        while not answers(url):
            if process.poll() is not None:
                raise SystemExit(f"{url} never answered: its process ended with status {process.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.5)  # between polls of a server that is still starting


def ready_block(urls: dict[str, str], login: list[str]) -> str:
    """What the demo prints once the servers answer: where to go, how to log in, and a decision to ask for."""
    rule = "=" * 78
    lines = [f"  {name:<14}{url}" for name, url in urls.items()] + [f"  {line}" for line in login]
    token = next((found.group(0) for line in login if (found := API_TOKEN.search(line))), None)
    if token:
        lines += [
            "  A decision (once validator has approved the first champion on Models):",
            f'  curl -s -H "Authorization: Bearer {token}" -H "Content-Type: application/json" \\',
            f"    --data @data/upload_example/decision_request.json {urls['Decision API']}/v1/decision",
        ]
    return "\n".join([rule, "  The demo is ready (Ctrl-C stops it).", *lines, rule])


def demo(args: list[str]) -> None:
    """Run the demo months, serve the portal beside `dagster dev` (webserver and daemon), print where to go and how
    to log in once both answer, and serve until Ctrl-C."""
    port, portal_port = option(args, "--port", "3000"), option(args, "--portal-port", "8000")
    api_port = option(args, "--api-port", "8001")
    urls = {
        "Dagster UI": f"http://127.0.0.1:{port}",
        "Portal": f"http://127.0.0.1:{portal_port}",
        "Decision API": f"http://127.0.0.1:{api_port}",
    }
    taken = [url for url in urls.values() if answers(url)]
    if taken:  # another process would answer in place of the demo's own (an earlier demo still running)
        raise SystemExit(f"something already answers at {', '.join(taken)}: stop it, or choose other ports ({USAGE})")
    env = demo_env(datetime.now(UTC).date())  # Dagster's monthly partitions end at the last complete UTC month
    login = run_holding_back_login([PYTHON, "-m", "credit_assets.cli", "demo"], env)
    portal_command = ["portal", "--port", portal_port, "--dagster-url", urls["Dagster UI"]]
    # the daemon's info lines (a sensor tick every 30 s) would bury the login block; warnings and errors still show
    dagster_command = ["dev", "--host", "127.0.0.1", "--port", port, "--log-level", "warning"]
    servers = {
        urls["Dagster UI"]: subprocess.Popen([str(VENV / "bin" / "dagster"), *dagster_command], cwd=ROOT, env=env),
        urls["Portal"]: subprocess.Popen([str(PYTHON), "-m", "credit_assets.cli", *portal_command], cwd=ROOT, env=env),
        urls["Decision API"]: subprocess.Popen(
            [str(PYTHON), "-m", "credit_assets.cli", "serve", "--port", api_port], cwd=ROOT, env=env
        ),
    }
    try:
        wait_until_answering(servers)
        print(ready_block(urls, login), flush=True)
        servers[urls["Dagster UI"]].wait()
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(30)


def test(pytest_args: list[str]) -> None:
    ensure_system_packages()
    env = project_env()
    # Dagster's SQLite storage commits every event: about 3 ms a commit on this disk, 0.3 ms in memory. The
    # tests' instances and storage roots are thrown away, so they go to tmpfs when the machine has one.
    if os.access("/dev/shm", os.W_OK):
        env.setdefault("TMPDIR", "/dev/shm")
    # Three test workers share two cores: LightGBM's OpenMP threads must sleep, not spin, while they wait.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    run(VENV / "bin" / "ruff", "check", ".", env=env)
    run(VENV / "bin" / "ruff", "format", "--check", ".", env=env)
    run(PYTHON, "-m", "pytest", *pytest_args, env=env)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(f"{__doc__}\n{USAGE}")
    command, args = sys.argv[1], sys.argv[2:]
    if command == "lock":
        return lock()
    ensure_environment()
    try:
        if command == "demo":
            demo(args)
        elif command == "test":
            test(args)
        else:
            run(PYTHON, "-m", "credit_assets.cli", command, *args, env=project_env())
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
