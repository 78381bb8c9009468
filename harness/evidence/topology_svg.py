"""GD-2.2.3: the deployment topology diagram, drawn from the resource graph of this run as SVG.

Hosts are the graph's hosts (by their compliance labels), columns follow the request
path (provider lines, ingress, app, database, coordination, backup), boxes group the
hosts of each site, and a line joins two hosts of neighbouring columns when the graph
puts them on a common network segment. Nothing is drawn from a hand-kept picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from harness.core.graph import GraphResource, ResourceGraph

COLUMNS: tuple[str, ...] = ("wan", "ingress", "app", "database", "backup")
LINKS = (("wan", "ingress"), ("ingress", "app"), ("app", "database"), ("database", "dcs"), ("database", "backup"))
"""Which tiers talk; a line is drawn where the graph also puts the two hosts on one segment."""
TITLES = {"wan": "运营商线路 Provider lines", "ingress": "入口 Ingress", "app": "应用 App",
          "database": "数据库 Database", "dcs": "协调 DCS (etcd)", "backup": "异地备份 Off-site backup",
          "av": "音视频 A/V (TURN)", "log": "日志 Log host (TLS, every host ships)"}
COLOURS = {"wan": "#fff3e0", "ingress": "#e3f2fd", "app": "#e8f5e9", "database": "#fce4ec", "dcs": "#f3e5f5",
           "backup": "#ede7f6", "av": "#e0f7fa", "log": "#f1f8e9"}
BOX_W, BOX_H, COL_W, ROW_H, TOP = 150, 40, 190, 58, 90


@dataclass
class Node:
    name: str
    role: str
    site: str
    region: str
    networks: set[str]
    x: float = 0.0
    y: float = 0.0
    labels: dict[str, str] | None = None


def nodes_from(graph: ResourceGraph) -> list[Node]:
    nodes = []
    for resource in graph.custom():
        labels = resource.labels()
        if "ihh.host" not in labels or "ihh.roles" not in labels:
            continue
        role = labels["ihh.roles"].split(",")[0]
        nodes.append(Node(labels["ihh.host"], role, labels.get("ihh.site", "?"), labels.get("ihh.region", "?"),
                          _networks(resource), labels=labels))
    return nodes


def _networks(resource: GraphResource) -> set[str]:
    attached = resource.inputs.get("networksAdvanced") or []
    return {str(n.get("name", "")).rsplit("-", 1)[-1] for n in attached if isinstance(n, dict)} - {"mgmt"}


def _layout(nodes: list[Node]) -> tuple[float, float]:
    for column, role in enumerate(COLUMNS):
        mine = sorted((n for n in nodes if n.role == role), key=lambda n: n.name)
        spacing = ROW_H * (1.7 if role == "backup" else 1)
        shift = 40 if role == "backup" else 0
        for row, node in enumerate(mine):
            node.x, node.y = 30 + column * COL_W + shift, TOP + row * spacing
    tiers_bottom = max((n.y for n in nodes if n.role in ("ingress", "app", "database")), default=TOP)
    for i, node in enumerate(sorted((n for n in nodes if n.role == "dcs"), key=lambda n: n.name)):
        node.x, node.y = 30 + (1.6 + i) * COL_W, tiers_bottom + ROW_H + 30
    bottom = max((n.y for n in nodes), default=TOP) + ROW_H + 50
    av = sorted((n for n in nodes if n.role == "av"), key=lambda n: n.name)
    for i, node in enumerate(av):
        node.x, node.y = 30 + (1 + i) * COL_W, bottom
    for i, node in enumerate(sorted((n for n in nodes if n.role == "log"), key=lambda n: n.name)):
        node.x, node.y = 30 + (1.3 + len(av) + i) * COL_W, bottom  # beside the A/V row: it serves every tier
    return 100 + len(COLUMNS) * COL_W, bottom + ROW_H + 30


def _linked(a: Node, b: Node) -> bool:
    if a.networks and b.networks:
        return bool(a.networks & b.networks)
    return True


def render(graph: ResourceGraph, title: str) -> str:
    nodes = nodes_from(graph)
    width, height = _layout(nodes)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
           f'<title>{escape(title)}</title>',
           f'<text x="20" y="24" font-size="15" font-weight="bold">{escape(title)}</text>']
    for site in sorted({n.site for n in nodes}):
        mine = [n for n in nodes if n.site == site]
        x0, y0 = min(n.x for n in mine) - 12, min(n.y for n in mine) - 26
        x1, y1 = max(n.x for n in mine) + BOX_W + 12, max(n.y for n in mine) + BOX_H + 10
        out.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#90a4ae" '
                   f'stroke-dasharray="5,4" rx="8"/>')
        out.append(f'<text x="{x0 + 6}" y="{y0 + 14}" fill="#546e7a">站点 site {escape(site)} '
                   f'({escape(mine[0].region)})</text>')
    for column, role in enumerate(COLUMNS):
        out.append(f'<text x="{30 + column * COL_W}" y="{TOP - 40}" font-weight="bold">{escape(TITLES[role])}</text>')
    for role in ("av", "log"):
        if any(n.role == role for n in nodes):
            first = min((n for n in nodes if n.role == role), key=lambda n: (n.y, n.x))
            out.append(f'<text x="{first.x}" y="{first.y - 40}" font-weight="bold">{escape(TITLES[role])}</text>')
    for left, right in LINKS:
        for a in (n for n in nodes if n.role == left):
            for b in (n for n in nodes if n.role == right):
                if _linked(a, b):
                    if right == "dcs":  # below its database: join bottom to top
                        x1, y1, x2, y2 = a.x + BOX_W / 2, a.y + BOX_H, b.x + BOX_W / 2, b.y
                    else:
                        x1, y1, x2, y2 = a.x + BOX_W, a.y + BOX_H / 2, b.x, b.y + BOX_H / 2
                    out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#78909c" stroke-width="1"/>')
    for node in nodes:
        out.append(f'<rect x="{node.x}" y="{node.y}" width="{BOX_W}" height="{BOX_H}" rx="5" '
                   f'fill="{COLOURS.get(node.role, "#eeeeee")}" stroke="#455a64"/>')
        out.append(f'<text x="{node.x + 8}" y="{node.y + 17}" font-weight="bold">{escape(node.name)}</text>')
        nets = ", ".join(sorted(node.networks)) or node.role
        out.append(f'<text x="{node.x + 8}" y="{node.y + 32}" fill="#455a64">{escape(nets)}</text>')
    out += _supervision(nodes)
    out.append("</svg>")
    return "\n".join(out)


SUPERVISION_LABEL = "ihh.supervision"
"""On the app servers: the supervision platform's host they upload to; on the host simulating it: "simulator"."""


def _supervision(nodes: list[Node]) -> list[str]:
    """GD-3.2.1's upload path: the platform outside the hospital, and the dashed route the uploads take to it
    (locally through the lines' simulator, which also plays the platform; on servers from the app servers)."""
    apps = [n for n in nodes if n.role == "app" and (n.labels or {}).get(SUPERVISION_LABEL)]
    if not apps:
        return []
    simulators = [n for n in nodes if (n.labels or {}).get(SUPERVISION_LABEL) == "simulator"]
    senders = simulators or apps
    # beside the title, above the columns (locally: the simulator stands with the lines); else below every tier
    x = 30 + 2.2 * COL_W if simulators else max(n.x for n in nodes) + BOX_W + 40
    y = 2 if simulators else max(n.y for n in nodes) + ROW_H + 10
    name = "模拟 simulated on " + simulators[0].name if simulators else (apps[0].labels or {})[SUPERVISION_LABEL]
    out = [f'<rect x="{x}" y="{y}" width="{BOX_W + 30}" height="{BOX_H - 4}" rx="5" fill="#fffde7" '
           'stroke="#f9a825"/>',
           f'<text x="{x + 8}" y="{y + 15}" font-weight="bold">省级监管平台 Supervision platform</text>',
           f'<text x="{x + 8}" y="{y + 29}" fill="#455a64">{escape(name)}</text>']
    for node in senders:
        out.append(f'<line x1="{node.x + BOX_W / 2}" y1="{node.y}" x2="{x + BOX_W / 2}" y2="{y + BOX_H - 4}" '
                   'stroke="#f9a825" stroke-width="1.5" stroke-dasharray="6,3"/>')
    out.append(f'<text x="{x + BOX_W + 40}" y="{y + 24}" fill="#f57f17">上传 uploads (GD-3.2.1): app -&gt; '
               f'{"ingress relay -&gt; line -&gt; " if simulators else ""}platform</text>')
    return out


def write_topology(graph: ResourceGraph, title: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(graph, title), encoding="utf-8")
    return path
