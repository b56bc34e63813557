"""Hosts on one machine for tests: a network namespace per host on a private bridge, and a mount namespace per
process that hides every folder the test's other processes write to.

The bridge holds the "hub" address (the services: PostgreSQL, Redis, the S3 server listen there); each host gets
the next address on a /24 in 10.213.0.0/16 that is free. Nothing routes beyond the bridge: a host reaches the
hub and the other hosts, and its own loopback, which is not the machine's.

`python -m credit_assets_tests.support.hosts NAME FOLDER... -- COMMAND...` is how a process enters its host: run
under `ip netns exec NS unshare --mount --uts --propagation private`, it mounts an empty tmpfs over each FOLDER,
sets the host name to NAME and becomes COMMAND (the same pid, so its process group is the test's to stop).
"""

import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from credit_assets_tests.support.e2e import require_tool

SUBNETS = ipaddress.ip_network("10.213.0.0/16")


@dataclass(frozen=True)
class Host:
    """A network namespace on the bridge, and the host name its processes get."""

    name: str
    namespace: str

    def command(self, hidden: list[Path], command: list[str]) -> list[str]:
        """`command` run inside this host, with `hidden` folders replaced by empty ones."""
        enter = [sys.executable, "-m", __name__, self.name, *map(str, hidden), "--", *command]
        return [
            "ip",
            "netns",
            "exec",
            self.namespace,
            "unshare",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            *enter,
        ]


@dataclass(frozen=True)
class Network:
    """The bridge's address (where the services listen), its subnet, and the hosts on it."""

    hub: str
    subnet: str
    hosts: list[Host]


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} exited with {result.returncode}: {result.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.213.0.0/16 that no interface of this machine uses."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    for _ in range(100):
        subnet = list(SUBNETS.subnets(new_prefix=24))[secrets.randbelow(256)]
        if f" {subnet.network_address}".rsplit(".", 1)[0] + "." not in used:
            return subnet
    raise RuntimeError("no free /24 in 10.213.0.0/16")


@contextmanager
def private_network(names: list[str]) -> Iterator[Network]:
    """A bridge with the hub address and one network namespace per name on it; all removed on the way out."""
    require_tool(shutil.which("ip") if os.geteuid() == 0 else None, "root and ip (network namespaces)", "iproute2")
    tag, subnet = secrets.token_hex(3), _free_subnet()
    hub, *addresses = (str(address) for address in subnet.hosts())
    bridge = f"cab{tag}"
    with ExitStack() as stack:
        _ip("link", "add", bridge, "type", "bridge")
        stack.callback(_ip, "link", "del", bridge)
        _ip("addr", "add", f"{hub}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        hosts = []
        for index, (name, address) in enumerate(zip(names, addresses, strict=False)):
            namespace, outside, inside = f"ca-{tag}-{name}", f"cav{tag}{index}", f"cah{tag}{index}"
            _ip("netns", "add", namespace)
            stack.callback(_ip, "netns", "del", namespace)  # its end of the veth pair goes with it
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", namespace)
            _ip("link", "set", outside, "master", bridge)
            _ip("link", "set", outside, "up")
            for args in (["addr", "add", f"{address}/24", "dev", inside], ["link", "set", inside, "up"]):
                _ip("netns", "exec", namespace, "ip", *args)
            _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
            hosts.append(Host(name=name, namespace=namespace))
        yield Network(hub=hub, subnet=str(subnet), hosts=hosts)


def reaches(host: Host, address: str, port: int) -> bool:
    """Whether a TCP connection from inside `host` to address:port succeeds."""
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=3).close()"
    return subprocess.run(host.command([], [sys.executable, "-c", probe]), capture_output=True).returncode == 0


def sees(host: Host, hidden: list[Path], path: Path) -> bool:
    """Whether `path` exists for a process in `host` with `hidden` folders replaced."""
    return subprocess.run(host.command(hidden, ["test", "-e", str(path)]), capture_output=True).returncode == 0


def _enter(name: str, hidden: list[str], command: list[str]) -> None:
    for folder in hidden:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", folder], check=True)
    socket.sethostname(name)
    os.execvp(command[0], command)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    _enter(sys.argv[1], sys.argv[2:separator], sys.argv[separator + 1 :])
