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
