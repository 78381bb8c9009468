"""The Pulumi program: read the stack's config, declare the topology, export the outputs contract."""

import pulumi

from infra.config import load_from_pulumi
from infra.topology import build_topology

topology = build_topology(load_from_pulumi())
for key, value in topology.outputs().items():
    pulumi.export(key, value)
