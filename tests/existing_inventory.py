"""An ``existing`` stack declared from a running local stack's outputs: the local containers, reached over SSH
as any server is, stand in for a hospital's own servers (what the issue's test of the inventory asks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.core.outputs import StackOutputs
from harness.provisioning.mockrun import read_stack_config

SECRET_ENV = {"dbAppPassword": ("IHH_TEST_DB_APP_PASSWORD", "db_app_password"),
              "patroniRestPassword": ("IHH_TEST_PATRONI_REST_PASSWORD", "patroni_rest_password"),
              "turnSharedSecret": ("IHH_TEST_TURN_SHARED_SECRET", "turn_shared_secret"),
              "serviceSessionKey": ("IHH_TEST_SERVICE_SESSION_KEY", "service_session_key")}


def _endpoints(outputs: StackOutputs, name: str) -> dict[str, str]:
    for member in outputs.database.members:
        if member.name == name:
            return {"postgres": member.postgres, "patroni": member.patroni}
    for node in outputs.av_nodes:
        if node.name == name:
            return {"turn-udp": node.turn, "turn-tcp": node.turn_tcp}
    if "wan" in outputs.host(name).roles and outputs.toxiproxy_api:
        return {"toxiproxy-api": outputs.toxiproxy_api.removeprefix("http://")}
    return {}


def inventory_from(local: StackOutputs, simulator: bool = True) -> dict[str, Any]:
    """``ihh:existing`` for the local stack's hosts; its WAN simulator too, as a staging lab's (``simulator``)."""
    return {
        "sshUser": local.ssh_user,
        "sshKey": {"file": str(local.ssh_key_path)},
        "caCert": str(local.ca_cert_path),
        "secrets": {key: {"env": env} for key, (env, _) in SECRET_ENV.items()},
        "hosts": [{"name": h.name, "roles": list(h.roles), "site": h.site, "ssh": h.ssh,
                   "hostKey": h.ssh_host_key.strip(), "endpoints": _endpoints(local, h.name)}
                  for h in local.hosts() if simulator or "wan" not in h.roles],
        "uplinks": {u.name: u.url for u in local.uplinks},
        "patroniScope": local.database.scope,
    }


def write_existing_stack(local: StackOutputs, folder: Path, stack: str, change: dict[str, Any] | None = None,
                         simulator: bool = True) -> dict[str, str]:
    """``folder/Pulumi.<stack>.yaml``: the local stack's config on platform existing; the environment its secrets
    are read from is returned (values from the local stack's outputs)."""
    values = {k: v for k, v in read_stack_config(local.stack).items() if k != "local"}
    values.update({"platform": "existing", "existing": inventory_from(local, simulator), **(change or {})})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": {f"ihh:{k}": v for k, v in values.items()}},
                                                                 sort_keys=False))
    return {env: local.secret(name) for env, name in SECRET_ENV.values()}
