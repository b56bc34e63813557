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
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed-pyproject-sha256"
USAGE = (
    "usage: python3 dev.py demo [--port N] [--portal-port N] | test [PYTEST ARGS] | COMMAND [ARGS] (a credit-assets "
    "command)"
)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(map(str, args)), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=True)


def ensure_environment() -> None:
    """Create the virtualenv and install the project with its dev extra, again whenever pyproject.toml changed."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


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


def demo(args: list[str]) -> None:
    """Run the demo months, then serve the portal beside `dagster dev` (webserver and daemon) until Ctrl-C."""
    port, portal_port = option(args, "--port", "3000"), option(args, "--portal-port", "8000")
    env = project_env()
    run(PYTHON, "-m", "credit_assets.cli", "demo", env=env)
    portal_command = ["portal", "--port", portal_port, "--dagster-url", f"http://127.0.0.1:{port}"]
    print(f"+ credit-assets {' '.join(portal_command)}: the portal on http://127.0.0.1:{portal_port}", flush=True)
    portal = subprocess.Popen([str(PYTHON), "-m", "credit_assets.cli", *portal_command], cwd=ROOT, env=env)
    try:
        run(VENV / "bin" / "dagster", "dev", "--host", "127.0.0.1", "--port", port, env=env)
    finally:
        portal.terminate()
        portal.wait(30)


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
