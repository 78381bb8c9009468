"""The Docker engine: find one that answers, or start Debian's dockerd ourselves.

This machine (and air-gapped hospital networks) have no systemd unit to lean on,
so the harness owns starting the daemon and knows whether it did.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import docker
from docker.errors import DockerException

from harness.core.containers import LocalContainers
from harness.core.outputs import StackOutputs
from harness.core.paths import DOCKERD_LOG
from harness.core.progress import say
from harness.core.waiting import wait_for


class EngineError(RuntimeError):
    """No Docker engine answers and none could be started."""


@dataclass
class Engine:
    """A client to a running engine; ``started_here`` says whether we own the daemon."""

    client: docker.DockerClient
    started_here: bool
    process: subprocess.Popen[bytes] | None = None

    def stop_if_ours(self) -> None:
        """Stop dockerd only when this process started it."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _client_if_answering() -> docker.DockerClient | None:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except DockerException:
        return None


def ensure_engine(start_timeout: float = 60.0) -> Engine:
    """Return a client to an answering engine, starting ``dockerd`` when none answers."""
    client = _client_if_answering()
    if client is not None:
        return Engine(client=client, started_here=False)
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineError(
            "no Docker engine answers and dockerd is not installed; "
            "run `bash scripts/setup.sh` (installs Debian's docker.io)"
        )
    say(f"no Docker engine answers; starting {dockerd} (log: {DOCKERD_LOG})")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = DOCKERD_LOG.open("ab")
    process = subprocess.Popen(
        [dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    def answering() -> docker.DockerClient | None:
        if process.poll() is not None:
            raise EngineError(f"dockerd exited with {process.returncode}; see {DOCKERD_LOG}")
        return _client_if_answering()

    client = wait_for("dockerd to answer", answering, timeout=start_timeout)
    return Engine(client=client, started_here=True, process=process)


MIN_FREE_GIB = 4.0
"""Below this the stack's WAL, backups and restore drills can fill the disk mid-run; PostgreSQL then stops
(PANIC on a WAL write) and every later drill fails for a reason that is not the drill's."""
COMFORTABLE_FREE_GIB = 10.0


class DiskSpaceError(RuntimeError):
    """Docker's data root has too little free space for a run to be meaningful."""


def docker_free_gib(client: docker.DockerClient) -> tuple[str, float]:
    """Docker's data root and the GiB free under it."""
    root = client.info().get("DockerRootDir", "/var/lib/docker")
    return root, shutil.disk_usage(root).free / 2**30


def check_free_space(client: docker.DockerClient, minimum_gib: float = MIN_FREE_GIB) -> float:
    """Free GiB under Docker's data root; refuse below ``minimum_gib``, warn below a comfortable margin."""
    root, free = docker_free_gib(client)
    if free < minimum_gib:
        raise DiskSpaceError(f"{root}: {free:.1f} GiB free, the stack needs at least {minimum_gib:.0f} GiB "
                             f"(images, volumes, WAL and backup copies); free some space and run again")
    if free < COMFORTABLE_FREE_GIB:
        say(f"warning: {root} has {free:.1f} GiB free; a full run (restore drills fill the database) "
            f"wants {COMFORTABLE_FREE_GIB:.0f} GiB")
    return free


def local_containers(outputs: StackOutputs) -> LocalContainers | None:
    """The engine's side of a stack whose hosts are local containers; None when none is (servers of an existing
    or cloud stack need no engine on the control machine)."""
    if not any(h.container for h in outputs.hosts()):
        return None
    return LocalContainers(ensure_engine().client, outputs.stack)
