"""The host-check suites: targets from the stack's outputs, requirement tags, waivers, one JSON record per check.

Each suite module sets ``ROLE`` (or None for every host); its tests take a ``target``
(the host's outputs record) and ``host`` (a testinfra Host over verified SSH), are
marked ``requirements(...)`` and ``impact(...)``, and assert one fact with a message
that names the host and the rule.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checks.hosts import testinfra_host
from checks.waivers import load_waivers
from harness.core.outputs import Host, StackOutputs
from harness.core.paths import DEFAULT_STACK

IMPACTS = ("critical", "high", "medium", "low")
_hosts: dict[str, Any] = {}
_results: list[Path] = []
"""The results file, set on the controlling process only (xdist workers forward their reports to it)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ihh", "internet-hospital host checks")
    group.addoption("--ihh-stack", default=DEFAULT_STACK, help="stack whose outputs to use")
    group.addoption("--ihh-results", default=None, help="write one JSON record per check to this file")
    group.addoption("--ihh-waivers", default=str(Path(__file__).parent.parent / "waivers.yaml"),
                    help="waiver file (check, justification, expires)")
    group.addoption("--ihh-host", action="append", default=[], help="only these hosts (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirements(*ids): requirement IDs this check gives evidence for")
    config.addinivalue_line("markers", f"impact(level): one of {', '.join(IMPACTS)}")
    config.addinivalue_line("markers", "destructive: changes the host; never part of `harness check`")
    config.ihh_waivers = load_waivers(Path(config.getoption("--ihh-waivers")))  # type: ignore[attr-defined]
    config.ihh_outputs = StackOutputs.load(config.getoption("--ihh-stack"))  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    outputs: StackOutputs = metafunc.config.ihh_outputs  # type: ignore[attr-defined]
    role = getattr(metafunc.module, "ROLE", None)
    only = set(metafunc.config.getoption("--ihh-host"))
    targets = [h for h in outputs.hosts(role=role) if not only or h.name in only]
    metafunc.parametrize("target", targets, ids=[t.name for t in targets])


@pytest.fixture(scope="session")
def outputs(request: pytest.FixtureRequest) -> StackOutputs:
    return request.config.ihh_outputs  # type: ignore[attr-defined]


def _testinfra(outputs: StackOutputs, name: str) -> Any:
    if name not in _hosts:
        _hosts[name] = testinfra_host(outputs, name)
    return _hosts[name]


@pytest.fixture
def host(target: Host, outputs: StackOutputs) -> Any:
    """One testinfra Host per stack host per process, reused by every check of that host."""
    return _testinfra(outputs, target.name)


@pytest.fixture
def log_host(outputs: StackOutputs) -> Any:
    """The stack's log host, for checks that look there for what another host sent; skipped without one."""
    if outputs.log_host is None:
        pytest.skip("the stack declares no log host (logs kept by a server outside it): arrival not checked")
    return _testinfra(outputs, outputs.log_host.name)


def check_id(item: pytest.Item) -> str:
    return f"{Path(str(item.fspath)).stem.removeprefix('test_')}::{getattr(item, 'originalname', item.name)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    target = getattr(item, "callspec", None) and item.callspec.params.get("target")
    if not isinstance(target, Host):
        return  # a suite with no host of its role here: nothing was checked
    requirement_marker = item.get_closest_marker("requirements")
    impact_marker = item.get_closest_marker("impact")
    check = check_id(item)
    status = {"passed": "pass", "failed": "fail", "skipped": "skip"}[report.outcome]
    if report.when == "setup" and report.failed:
        status = "error"
    message = ""
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)[-500:]
        message = message.removeprefix("AssertionError: ")  # the fact's own words, not the exception type
        waiver = next((w for w in item.config.ihh_waivers if w.covers(check, target.name)), None)  # type: ignore[attr-defined]
        if waiver is not None and status == "fail":
            status = "waived"
            message = f"waived until {waiver.expires.isoformat()} ({waiver.justification}); {message}"
            report.outcome = "skipped"
            report.wasxfail = f"waived: {waiver.justification}"
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2]).removeprefix("Skipped: ")  # why it could not be checked here
    record = {
        "host": target.name,
        "roles": list(target.roles),
        "check": check,
        "requirements": list(requirement_marker.args) if requirement_marker else [],
        "impact": impact_marker.args[0] if impact_marker else "medium",
        "status": status,
        "message": message.splitlines()[0] if message else "",
        "seconds": round(report.duration, 3),
    }
    report.user_properties.append(("ihh_record", json.dumps(record)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the controlling process (xdist forwards reports), append each record to the results file."""
    if not _results:
        return
    for name, value in report.user_properties:
        if name == "ihh_record":
            with _results[0].open("a", encoding="utf-8") as handle:
                handle.write(value + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    results = session.config.getoption("--ihh-results")
    if results and not hasattr(session.config, "workerinput"):
        Path(results).write_text("")
        _results[:] = [Path(results)]

