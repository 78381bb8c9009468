"""Shared fixtures: one live local stack per test session, brought up and taken down by the session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

STACK = os.environ.get("IHH_TEST_STACK", "local")
# The operator's evidence key and trust file of a test session are its own, never the user's ~/.config/ihh:
# set before anything imports harness.core.paths, and inherited by every `harness` the tests start.
os.environ["IHH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="ihh-test-config-")
os.environ.pop("IHH_EVIDENCE_KEY", None)
os.environ.pop("IHH_EVIDENCE_TRUST", None)


@dataclass
class LiveStack:
    """The session's stack; ``ensure_up`` is cheap when it is already up (nothing changes)."""

    stack: str
    up_seconds: list[float] = field(default_factory=list)
    brought_up: bool = False

    def ensure_up(self):
        from harness.core.outputs import StackOutputs
        from harness.core.progress import say
        from harness.provisioning.docker_apply import ForeignStackError
        from harness.provisioning.stack_ops import down, up

        try:
            result = up(self.stack)
        except ForeignStackError as exc:  # a killed run's (another clone's) stack: the session's is disposable
            say(f"{exc}\ntest session: taking that stack down and making its own")
            down(self.stack)
            result = up(self.stack)
        self.up_seconds.append(result.seconds)
        self.brought_up = True
        return StackOutputs.load(self.stack)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that take the stack down run last, so every other live test shares one stack."""
    items.sort(key=lambda item: 1 if item.get_closest_marker("takes_stack_down") else 0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "takes_stack_down: runs after every other test")


@pytest.fixture(scope="session")
def engine() -> Iterator[object]:
    """A Docker engine for the session; a daemon started here is stopped at the end."""
    from harness.provisioning.engine import ensure_engine

    started = ensure_engine()
    yield started
    started.stop_if_ours()


DIAGNOSTICS: list[str] = []
"""The stack's state at the first failing live tests, printed last (the part of a CI log one sees)."""
MAX_DIAGNOSTICS = 2


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a live test's failure (setup or call), read the stack's state at once, before anything repairs it."""
    report = yield
    if report.failed and item.get_closest_marker("live") and len(DIAGNOSTICS) < MAX_DIAGNOSTICS:
        from tests.diagnostics import stack_diagnostics

        try:
            import docker

            DIAGNOSTICS.append(f"after {item.nodeid} ({report.when}) failed:\n"
                               + stack_diagnostics(docker.from_env(), STACK))
        except Exception as exc:  # noqa: BLE001 - a diagnostic must not hide the failure it describes
            DIAGNOSTICS.append(f"after {item.nodeid}: no diagnostics ({type(exc).__name__}: {exc})")
    return report


@pytest.fixture(scope="session")
def live_stack(engine: object) -> Iterator[LiveStack]:
    """The local stack, up for the whole session and down afterwards unless IHH_KEEP_STACK=1."""
    live = LiveStack(STACK)
    yield live
    if live.brought_up and os.environ.get("IHH_KEEP_STACK") != "1":
        from harness.provisioning.stack_ops import down

        down(STACK)


@pytest.fixture
def outputs(live_stack: LiveStack):
    """The stack's outputs, the stack converged first."""
    return live_stack.ensure_up()


@pytest.fixture
def containers(outputs, engine):
    """The local stack's power switch, for drills and for tests that look behind the harness's back."""
    from harness.core.containers import LocalContainers

    return LocalContainers(engine.client, outputs.stack)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in DIAGNOSTICS:
        terminalreporter.section("state of the live stack at a failure")
        terminalreporter.write_line(text)
