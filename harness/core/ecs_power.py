"""Alibaba Cloud's power switch: ECS instances forced off and started again through the ECS API.

A host's power loss has no in-host form (a process cannot pull its own plug), so on a cloud it is the
API's ``StopInstances`` with ``ForceStop`` (the hypervisor cuts the instance off, no shutdown) and
``StartInstances``. ``StoppedMode=KeepCharging`` keeps the instance's resources (its vCPUs, its IP), so
the start cannot fail for lack of stock in the zone mid-drill. Credentials come from the standard
``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``; the endpoint is the region's,
or ``IHH_ECS_ENDPOINT`` (a VPC endpoint, or a test double on loopback, the only place plain HTTP is let).
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable

from harness.core.waiting import wait_for

ENDPOINT_ENV = "IHH_ECS_ENDPOINT"
KEY_ID_ENV, KEY_SECRET_ENV = "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
STOPPED, RUNNING = "Stopped", "Running"
STATE_CHANGE_S = 180.0
"""How long an instance may take to reach Stopped or Running: a forced stop takes seconds, a start ~30 s."""


class EcsPowerError(RuntimeError):
    """The ECS API refused or failed a call: names the call, the instances and the API's own code."""


def _endpoint(region: str) -> tuple[str, str]:
    """(endpoint, protocol): HTTPS to the region's endpoint, or the override; plain HTTP to loopback only."""
    override = os.environ.get(ENDPOINT_ENV, "").strip()
    if not override:
        return f"ecs.{region}.aliyuncs.com", "https"
    scheme, _, rest = override.rpartition("://")
    host = rest.rsplit(":", 1)[0].strip("[]")
    if scheme == "http":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise EcsPowerError(f"{ENDPOINT_ENV}={override}: plain http is refused but on loopback (a test double); "
                                "use https://")
        return rest, "http"
    if scheme not in ("", "https"):
        raise EcsPowerError(f"{ENDPOINT_ENV}={override}: the scheme must be https:// (or http:// on loopback)")
    return rest, "https"


class EcsPower:
    """The ECS instances of one region, forced off, started and read through the ECS API."""

    def __init__(self, region: str) -> None:
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_tea_openapi import models as openapi

        key_id, secret = os.environ.get(KEY_ID_ENV), os.environ.get(KEY_SECRET_ENV)
        if not key_id or not secret:
            raise EcsPowerError(f"the ECS power switch needs {KEY_ID_ENV} and {KEY_SECRET_ENV} in the environment "
                                "(a RAM user allowed ecs:StopInstances, ecs:StartInstances, ecs:DescribeInstances)")
        endpoint, protocol = _endpoint(region)
        self.region = region
        self.client = Client(openapi.Config(access_key_id=key_id, access_key_secret=secret, region_id=region,
                                            endpoint=endpoint, protocol=protocol, read_timeout=15000,
                                            connect_timeout=5000))

    def _call(self, action: str, ids: list[str], call: object) -> object:
        try:
            return call()  # type: ignore[operator]
        except Exception as exc:  # the SDK raises several kinds; each is re-raised with the call named
            code = getattr(exc, "code", None) or type(exc).__name__
            raise EcsPowerError(f"ECS {action} of {', '.join(ids)} in {self.region} failed: {code}: "
                                f"{getattr(exc, 'message', None) or exc}") from exc

    def force_stop(self, ids: list[str]) -> None:
        """Every instance off in one call: the hypervisor's power cut, no shutdown inside."""
        from alibabacloud_ecs20140526 import models

        request = models.StopInstancesRequest(region_id=self.region, instance_id=ids, force_stop=True,
                                              stopped_mode="KeepCharging")
        self._call("StopInstances", ids, lambda: self.client.stop_instances(request))

    def start(self, ids: list[str]) -> None:
        from alibabacloud_ecs20140526 import models

        request = models.StartInstancesRequest(region_id=self.region, instance_id=ids)
        self._call("StartInstances", ids, lambda: self.client.start_instances(request))

    def statuses(self, ids: list[str]) -> dict[str, str]:
        """Instance ID -> ECS status (Running, Stopping, Stopped, Starting, Pending); an unknown ID is missing."""
        from alibabacloud_ecs20140526 import models

        request = models.DescribeInstancesRequest(region_id=self.region, instance_ids=json.dumps(ids),
                                                  page_size=100)
        response = self._call("DescribeInstances", ids, lambda: self.client.describe_instances(request))
        instances = response.body.instances.instance if response.body.instances else []  # type: ignore[attr-defined]
        return {i.instance_id: i.status for i in instances or []}

    def wait_status(self, ids: list[str], status: str, timeout_s: float = STATE_CHANGE_S) -> None:
        missing = [i for i in ids if i not in self.statuses(ids)]
        if missing:  # no wait makes an instance exist: said at once
            raise EcsPowerError(f"ECS DescribeInstances in {self.region} does not know {', '.join(missing)}")

        def reached() -> bool:
            found = self.statuses(ids)
            return all(found.get(i) == status for i in ids)

        wait_for(f"{len(ids)} ECS instance(s) {status} in {self.region}", reached, timeout=timeout_s, interval=1.0)


def by_region(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(region, instance ID) pairs grouped: one API client, and one call, per region."""
    grouped: dict[str, list[str]] = {}
    for region, instance in pairs:
        grouped.setdefault(region, []).append(instance)
    return grouped
