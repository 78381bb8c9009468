"""The offline executor's pure parts: ordering, change detection, refusal of what it cannot apply."""

from __future__ import annotations

import io
import tarfile

import pytest

from harness.core.graph import GraphResource, ResourceGraph
from harness.provisioning.docker_apply import ApplyError, _ns, _tar, docker_resources, spec_hashes, topological

CONTAINER = "docker:index/container:Container"


def res(name: str, deps: tuple[str, ...] = (), typ: str = CONTAINER, **inputs: object) -> GraphResource:
    return GraphResource(urn=f"urn::{name}", type=typ, name=name, inputs={"name": name, **inputs}, custom=True,
                         dependencies=[f"urn::{d}" for d in deps])


def test_dependencies_come_first_declaration_order_otherwise() -> None:
    ordered = topological([res("app", ("db",)), res("db", ("net",)), res("net"), res("other")])
    names = [r.name for r in ordered]
    assert names.index("net") < names.index("db") < names.index("app")
    assert names.index("app") < names.index("other")


def test_cycle_is_an_error_naming_the_path() -> None:
    with pytest.raises(ApplyError, match="dependency cycle: a -> b -> a"):
        topological([res("a", ("b",)), res("b", ("a",))])


def test_spec_hash_changes_with_own_inputs_only() -> None:
    base = spec_hashes([res("db", image="ihh/database:1"), res("app", ("db",), image="ihh/app:1")])
    changed = spec_hashes([res("db", image="ihh/database:2"), res("app", ("db",), image="ihh/app:1")])
    assert base["urn::db"] != changed["urn::db"]
    assert base["urn::app"] == changed["urn::app"], "a dependency's change must not replace its dependents"


def test_unknown_type_is_refused_with_its_urn() -> None:
    graph = ResourceGraph([res("lb", typ="alicloud:slb/loadBalancer:LoadBalancer")])
    with pytest.raises(ApplyError, match="urn::lb: the offline executor cannot apply type alicloud:slb"):
        docker_resources(graph)


def test_generated_types_are_not_applied() -> None:
    graph = ResourceGraph([res("key", typ="tls:index/privateKey:PrivateKey"), res("web")])
    assert [r.name for r in docker_resources(graph)] == ["web"]


def test_durations_and_uploads() -> None:
    assert _ns("2s") == 2_000_000_000 and _ns("500ms") == 500_000_000
    with pytest.raises(ApplyError):
        _ns("soon")
    data = _tar([{"file": "/etc/ihh/a.json", "content": "{}"}, {"file": "/usr/local/bin/x", "content": "#!",
                                                                 "executable": True}])
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert members["etc/ihh/a.json"].mode == 0o644 and members["usr/local/bin/x"].mode == 0o755


@pytest.mark.parametrize(("inputs", "refused"), [
    ({"capabilities": {"adds": ["NET_ADMIN"], "drops": ["ALL"]}}, "input capabilities.drops is not applied"),
    ({"privileged": True}, "input 'privileged' is not applied by the offline executor"),
    ({"mounts": [{"target": "/data", "type": "tmpfs"}]}, "input 'mounts' is not applied"),
    ({"ports": [{"internal": 80, "external": 8080, "ip": "127.0.0.1", "protocol": "tcp", "publishMode": "host"}]},
     "input ports.publishMode is not applied"),
    ({"healthcheck": {"tests": ["CMD", "true"], "interval": "1s", "startInterval": "1s"}},
     "input healthcheck.startInterval is not applied"),
])
def test_an_input_the_executor_would_drop_is_refused_not_ignored(inputs: dict, refused: str) -> None:
    """`pulumi up` would apply these; silently dropping them offline would give another topology."""
    with pytest.raises(ApplyError, match=f"urn::web: {refused}"):
        docker_resources(ResourceGraph([res("web", image="ihh/app:1", **inputs)]))


def test_every_input_the_committed_stack_declares_is_applied() -> None:
    from harness.provisioning.mockrun import read_stack_config, run_program

    run = run_program("local", read_stack_config("local"))
    assert len(docker_resources(run.graph)) > 20
