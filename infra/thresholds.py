"""The numbers the rules demand, in one place, each with its requirement ID."""

from __future__ import annotations

MIN_UPLINK_MBPS = 10
"""GD-1.2.5: business bandwidth at least 10 Mbps per provider."""

MIN_UPLINK_PROVIDERS = 2
"""GD-1.2.5: at least two broadband providers."""

MIN_AV_NODES = 2
"""GD-1.2.4: at least two audio/video systems."""

MIN_SERVERS = 2
"""GD-1.2.3a: at least two servers run the internet hospital."""

MIN_BACKUP_COPIES = 2
"""EH-2.2.3: at least two complete off-site copies."""

MIN_RETENTION_DAYS = 5 * 365 + 2
"""EH-1.2.3: five years of records, counting the leap days five years can hold."""

MIN_LOG_RETENTION_DAYS = 180
"""GD-1.2.1 (MLPS level 3, as the Cybersecurity Law art. 21 asks): network logs kept at least six months."""
