"""Quick start for a fresh machine with Python 3.11: `python3 dev.py demo`, `test` or `split-real FILE`.

Both create `.venv` and install the project when needed. `demo` generates demo months, runs them through
the pipeline into the project's own Dagster instance (SQLite under dagster_home/) and opens the UI on
127.0.0.1; `test` installs the Debian packages the real-parts tests need (as root, when missing) and
runs the whole test suite. Standard library only: it runs before anything is installed.
"""

import argparse
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
SYSTEM_PACKAGES = {"chromium": "/usr/bin/chromium", "postgresql": "/usr/lib/postgresql/*/bin/initdb", "redis-server": "/usr/bin/redis-server"}


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


def demo(port: int) -> None:
    env = project_env()
    run(PYTHON, "-m", "credit_assets.cli", "demo", env=env)
    run(VENV / "bin" / "dagster", "dev", "--host", "127.0.0.1", "--port", str(port), env=env)


def split_real(csv_path: str) -> None:
    run(PYTHON, "-m", "credit_assets.cli", "split-real", Path(csv_path).resolve(), env=project_env())


def test(pytest_args: list[str]) -> None:
    ensure_system_packages()
    run(PYTHON, "-m", "pytest", *pytest_args, env=project_env())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="set up, run the demo months and open the Dagster UI")
    demo_parser.add_argument("--port", type=int, default=3000)
    split_parser = commands.add_parser("split-real", help="land the real application_train.csv split like the article")
    split_parser.add_argument("csv_path")
    commands.add_parser("test", help="set up and run the whole test suite (further arguments go to pytest)")
    args, pytest_args = parser.parse_known_args()  # whatever follows `test` goes to pytest
    if pytest_args and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(pytest_args)}")
    ensure_environment()
    try:
        if args.command == "demo":
            demo(args.port)
        elif args.command == "split-real":
            split_real(args.csv_path)
        else:
            test(pytest_args)
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
