"""A/V nodes: coturn authenticates every allocation and relays to no loopback or private peer."""

from __future__ import annotations

import ipaddress

import pytest

from checks.suites.facts import assert_owner_only, file_text
from harness.core.outputs import AvNode
from harness.core.turn import TurnError, allocate

ROLE = "av"
CONFIG = "/etc/ihh/turnserver.conf"
FORBIDDEN_PEERS = ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1")


def _options(host) -> set[str]:
    return {line.strip().split("=")[0] for line in file_text(host, CONFIG).splitlines() if line.strip()}


def _node(outputs, target) -> AvNode:
    return outputs.av_node(target.name)


@pytest.mark.requirements("GD-1.2.4", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_coturn_requires_authentication(host, target) -> None:
    options = _options(host)
    assert "use-auth-secret" in options and "no-auth" not in options, (
        f"{target.name}: coturn must require authentication (use-auth-secret, no no-auth) in {CONFIG}"
    )


@pytest.mark.requirements("GD-1.2.4", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_allocation_without_valid_credential_is_refused(target, outputs) -> None:
    with pytest.raises(TurnError) as refused:
        allocate(_node(outputs, target).turn, "not-the-shared-secret")
    assert refused.value.code == 401, f"{target.name}: expected 401 for a forged credential: {refused.value}"


@pytest.mark.requirements("GD-1.2.4", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_no_relay_to_loopback_or_private_peers(target, outputs) -> None:
    allocation = allocate(_node(outputs, target).turn, outputs.secret("turn_shared_secret"), peers=FORBIDDEN_PEERS)
    granted = [peer for peer, answer in allocation.permissions.items() if answer is True]
    assert not granted, f"{target.name}: must not relay to loopback or private peers: granted {granted}"


@pytest.mark.requirements("GD-1.2.4", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_private_peers_allowed_are_exactly_the_turn_nodes_relays(host, target, outputs) -> None:
    """A call's two legs meet through the nodes' own relay addresses, so those may be peers where they are private
    (locally); nothing else private may: the address beside each allowed one is tried and must be refused."""
    lines = file_text(host, CONFIG).splitlines()
    allowed = {line.split("=", 1)[1].strip() for line in lines if line.startswith("allowed-peer-ip=")}
    secret = outputs.secret("turn_shared_secret")
    relays = {allocate(node.turn, secret).relayed_host for node in outputs.av_nodes}
    private = {r for r in relays if ipaddress.ip_address(r).is_private}
    assert allowed == private, (f"{target.name}: allowed-peer-ip must be exactly the TURN nodes' private relay "
                                f"addresses {sorted(private)}, got {sorted(allowed)}")
    beside = {str(ipaddress.ip_address(a) + 1) for a in allowed} - allowed
    answers = allocate(_node(outputs, target).turn, secret, peers=(*sorted(allowed), *sorted(beside))).permissions
    refused = [peer for peer in allowed if answers[peer] is not True]
    granted = [peer for peer in beside if answers[peer] is True]
    assert not refused, f"{target.name}: the nodes' relays must be reachable peers, refused {refused}: {answers}"
    assert not granted, f"{target.name}: only the nodes' relays may be private peers, granted {granted}"


@pytest.mark.requirements("TM-5.2")
@pytest.mark.impact("high")
def test_shared_secret_readable_only_by_coturn(host, target) -> None:
    assert_owner_only(host, target, CONFIG, "turnserver", "the TURN shared secret must be readable by coturn only")


def _values(host, option: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in file_text(host, CONFIG).splitlines()
            if line.strip().startswith(f"{option}=")]


@pytest.mark.requirements("GD-1.2.4", "EH-2.2.2")
@pytest.mark.impact("high")
def test_no_tcp_relay_and_a_bandwidth_cap_per_session(host, target) -> None:
    options = _options(host)
    assert "no-tcp-relay" in options, f"{target.name}: TCP relaying must be off (no-tcp-relay) in {CONFIG}"
    caps = [int(v) for v in _values(host, "max-bps")]
    assert caps and 0 < caps[0] <= 2_000_000, f"{target.name}: each session needs a bandwidth cap (max-bps): {caps}"


@pytest.mark.requirements("GD-1.2.4", "EH-2.2.2")
@pytest.mark.impact("high")
def test_ipv6_loopback_private_and_mapped_peers_are_denied(host, target) -> None:
    denied = set(_values(host, "denied-peer-ip"))
    needed = {"::1", "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
              "::ffff:0.0.0.0-::ffff:255.255.255.255"}
    assert needed <= denied, f"{target.name}: IPv6 peers must be denied as the IPv4 ones are: missing {needed - denied}"
