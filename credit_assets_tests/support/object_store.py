"""A real S3-compatible server for the tests: moto's server mode, which speaks the S3 wire protocol over HTTP.

Chosen over a production server because none installs here from Debian's or PyPI's packages (MinIO and Garage
are in neither), while moto's server is what the s3fs and dagster-aws test suites run against, and it implements
the conditional writes (If-None-Match: *) the append-only logs rely on.
"""

import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from credit_assets_tests.support.e2e import HOST, free_port, log_tail, stop_process_group, wait_until

STARTUP_SECONDS = 60
BUCKET = "credit-assets-test"
# moto accepts any key pair; these are the test server's only, never a real account's
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto-test-key", "AWS_SECRET_ACCESS_KEY": "moto-test-secret"}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def s3_server(host: str = HOST) -> Iterator[dict[str, str]]:
    """A throwaway moto S3 server on `host` (127.0.0.1) with one bucket; yields the environment that reaches it."""
    folder = Path(tempfile.mkdtemp(prefix="credit-assets-s3-"))
    port, log = free_port(), folder / "moto.log"
    command = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://{host}:{port}"
    try:
        wait_until(lambda: _answers(endpoint) or process.poll() is not None, STARTUP_SECONDS, "moto server", 0.2)
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}:\n{log_tail(log)}")
        env = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", **CREDENTIALS}
        request = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            pass
        yield env
    finally:
        stop_process_group(process)


def fresh_prefix() -> str:
    """A storage root of its own in the test bucket."""
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """These variables in this process's environment for the block (botocore reads them when a client is made)."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
