"""Run the Pulumi program under Pulumi's mock runtime and capture the resource graph it declares.

This is how the harness works without the Pulumi CLI or its plugins: the very same
``build_topology`` the CLI runs is executed here, every registration is recorded
(type, name, inputs, parent, dependencies), generated secrets come from
``harness.provisioning.generated``, and the program's outputs are resolved to plain values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from harness.core.graph import GraphResource, ResourceGraph
from harness.core.paths import STACKS_DIR
from harness.provisioning.generated import GENERATORS, inputs_digest
from infra.config import NAMESPACE, StackConfig, parse_config

PROJECT = "ihh"


def read_stack_config(stack: str, stacks_dir: Path = STACKS_DIR) -> dict[str, Any]:
    """The ``ihh:*`` values of ``stacks/Pulumi.<stack>.yaml``, namespace stripped."""
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack {stack!r}: {path} does not exist (stacks: {', '.join(known)})")
    document = yaml.safe_load(path.read_text()) or {}
    values: dict[str, Any] = {}
    for key, value in (document.get("config") or {}).items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or not name:
            raise ValueError(f"{path}: config key {key!r} is not in the {NAMESPACE}: namespace")
        values[name] = value
    return values


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's secret marker, not a secret


def unwrap_secrets(value: Any) -> Any:
    """Replace Pulumi's secret envelopes by their values (inputs arrive wrapped under mocks)."""
    if isinstance(value, dict):
        if SECRET_SIG in value and "value" in value:
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


class HarnessMocks(pulumi.runtime.Mocks):
    """Mocks that act as the tls/random providers and echo every other resource's inputs."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap_secrets(args.inputs)
        generator = GENERATORS.get(args.typ)
        if generator is None:
            return f"{args.name}-id", _echo_outputs(args.typ, args.name, inputs)
        key = f"{args.typ}::{args.name}"
        digest = inputs_digest(inputs)
        saved = self.state.get(key)
        if saved is None or saved.get("inputs") != digest:
            saved = {"inputs": digest, "outputs": generator(inputs)}
            self.state[key] = saved
        return f"{args.name}-id", {**inputs, **saved["outputs"]}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _echo_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a provider would report for a resource whose outputs are its inputs."""
    outputs = dict(inputs)
    if typ == "docker:index/image:Image":
        outputs.setdefault("repoDigest", inputs.get("imageName", name))
    outputs.setdefault("name", name)
    return outputs


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping each registration's parent and dependencies."""

    def __init__(self, mocks: HarnessMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[GraphResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.recorded.append(
                GraphResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=unwrap_secrets(pulumi.runtime.rpc.deserialize_properties(request.object)),
                    custom=bool(request.custom),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    outputs=registration.state,
                )
            )
        return response


@dataclass
class ProgramRun:
    """What one run of the program produced."""

    config: StackConfig
    graph: ResourceGraph
    outputs: dict[str, Any]
    state: dict[str, Any]


def run_program(stack: str, values: dict[str, Any], state: dict[str, Any] | None = None) -> ProgramRun:
    """Validate the config, run ``build_topology`` under mocks, return graph, outputs and generated state."""
    config = parse_config(stack, values)
    state = dict(state or {})
    mocks = HarnessMocks(state)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    set_all_config({f"{NAMESPACE}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})
    from infra.topology import build_topology

    resolved: dict[str, Any] = {}

    def program() -> None:
        topology = build_topology(config)
        outputs = pulumi.Output.from_input(topology.outputs())
        resolved.update(_sync_await(outputs.future()) or {})

    _sync_await(run_pulumi_func(program))
    return ProgramRun(config=config, graph=ResourceGraph(monitor.recorded), outputs=resolved, state=state)
