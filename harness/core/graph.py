"""The resource graph a Pulumi program declares: types, names, inputs, parents, dependencies.

The policy rules read it, the offline executor applies it; the Pulumi CLI's policy
pack builds the same shape from the engine's resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GraphResource:
    """One declared resource with everything the executor and the rules need."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def labels(self) -> dict[str, str]:
        """Compliance labels, whichever way the platform spells them (Docker labels, cloud tags)."""
        raw = self.inputs.get("labels")
        if isinstance(raw, list):
            return {str(item["label"]): str(item["value"]) for item in raw}
        tags = self.inputs.get("tags")
        if isinstance(tags, dict):
            return {str(k): str(v) for k, v in tags.items()}
        return {}


@dataclass
class ResourceGraph:
    """All resources of one program run, in declaration order."""

    resources: list[GraphResource]

    def by_urn(self) -> dict[str, GraphResource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, *types: str) -> list[GraphResource]:
        return [r for r in self.resources if r.type in types]

    def custom(self) -> list[GraphResource]:
        return [r for r in self.resources if r.custom]


PUBLIC_INPUTS = ("labels", "tags", "networksAdvanced", "name")
"""The inputs a saved graph keeps: compliance labels (what the rules read) and network attachments (what the
diagram draws). Everything else may hold key material or passwords and stays out of state and evidence."""


def to_public_json(graph: ResourceGraph) -> list[dict[str, Any]]:
    """The graph without secrets: types, names, parents, dependencies and the public inputs."""
    return [{"urn": r.urn, "type": r.type, "name": r.name, "custom": r.custom, "parent": r.parent,
             "dependencies": list(r.dependencies),
             "inputs": {k: _attachments(k, r.inputs[k]) for k in PUBLIC_INPUTS if k in r.inputs}}
            for r in graph.resources]


def _attachments(key: str, value: Any) -> Any:
    if key != "networksAdvanced" or not isinstance(value, list):
        return value
    return [{"name": n.get("name"), "aliases": n.get("aliases")} for n in value if isinstance(n, dict)]


def from_public_json(records: list[dict[str, Any]]) -> ResourceGraph:
    """A graph read back from ``to_public_json``; a malformed record names its position and field."""
    resources = []
    for i, r in enumerate(records):
        try:
            resources.append(GraphResource(urn=r["urn"], type=r["type"], name=r["name"], inputs=dict(r["inputs"]),
                                           custom=bool(r["custom"]), parent=r.get("parent", ""),
                                           dependencies=list(r.get("dependencies", []))))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"resource graph record {i}: missing or malformed field {exc}") from exc
    return ResourceGraph(resources)
