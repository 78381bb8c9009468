"""Calls that carry media through the live stack's TURN nodes, the media line in front of them, and coturn's own
client as an independent cross-check of the relaying the harness's probe measures."""

from __future__ import annotations

import random
import re

import pytest

from chaos.av_call import call_ice_servers
from chaos.cleanup import cleanup
from harness.core.media_call import MediaCall
from harness.core.media_line import MediaLine
from harness.core.turn import rest_credentials
from tests.helpers import as_root_in_container

pytestmark = pytest.mark.live


def carry(outputs, through: int, seconds: float) -> dict:
    patient, doctor = call_ice_servers(outputs, random.Random())
    return MediaCall(patient, doctor, start=through).run(seconds).as_dict()


@pytest.mark.parametrize("through", [0, 1])
def test_a_call_carries_audio_both_ways_through_each_node(outputs, through: int) -> None:
    call = carry(outputs, through, 3.0)
    assert call["nodes"] == [outputs.av_nodes[through].name] and not call["moves"] and not call["dropped"], call
    for direction in call["directions"]:
        assert direction["sent"] >= 140, direction  # 50 packets/s for 3 s
        assert direction["loss_pct"] <= 1 and direction["received"] >= direction["sent"] - 2, direction
        assert 0 < direction["delay_ms_p50"] < 50 and direction["jitter_ms"] < 20, direction


def test_the_media_line_delays_the_call_and_cleanup_clears_it(outputs, containers) -> None:
    line = MediaLine(outputs.media_line_api, outputs.secret("media_line_token"))
    node = outputs.av_nodes[0].name
    line.impair(node, {"delay_ms": 100})  # each way through the line: a relayed packet passes it twice
    try:
        delayed = carry(outputs, 0, 2.0)
    finally:
        undone = cleanup(containers, outputs)  # as after a run killed with the impairment in force
    assert any(node in u and "impairment" in u for u in undone), undone
    assert all(d["delay_ms_p50"] >= 195 for d in delayed["directions"]), delayed["directions"]
    assert line.links()[node]["impairment"] == {}
    assert all(d["delay_ms_p50"] < 50 for d in carry(outputs, 0, 1.0)["directions"])


def test_coturns_own_client_relays_between_two_clients_through_a_node(outputs, containers) -> None:
    """turnutils_uclient -y: two clients allocate and send to each other's relayed address (the peers the nodes
    allow); it counts what came back itself. It ran into 403 Forbidden IP before the relays were allowed."""
    username, password = rest_credentials(outputs.secret("turn_shared_secret"), "uclient-check")
    node = outputs.av_nodes[0].name
    report = as_root_in_container(containers, outputs, node, (
        f"turnutils_uclient -y -n 100 -l 172 -m 2 -z 20 -u '{username}' -w '{password}' 127.0.0.1 2>&1 | tail -20"))
    lost = re.search(r"Total lost packets (\d+) \(([\d.]+)%\)", report)
    sent = re.search(r"Total transmit time is (\d+)", report)
    assert lost and sent and "403" not in report, report
    assert float(lost.group(2)) <= 1.0, report
