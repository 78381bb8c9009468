"""An audio call carried through TURN relays, measured per direction: what a consultation's media goes through.

Two legs (patient and doctor), each with the ICE servers the service handed it, allocate on the same node,
bind each other's relayed address to a channel and send an RTP-sized stream (50 packets/s of 172 bytes,
like G.711 audio) through the relays. Both legs live in this process, so one clock stamps sending and
arrival: the delay is one-way, not guessed from a round trip. Jitter is RFC 3550's estimator (§6.4.1,
A.8). When no media has arrived for ``restart_after_s`` the call moves both legs to the next node, as an
ICE restart does, and the gap that leaves in each direction is measured.
"""

from __future__ import annotations

import itertools
import select
import selectors
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.core.turn import Relay, TurnClient, TurnError

PACKETS_PER_S = 50
PAYLOAD_BYTES = 160
"""20 ms of G.711 audio; with the 12-byte RTP header a packet is 172 bytes."""
RTP_HEADER = struct.Struct("!BBHII")
STAMP = struct.Struct("!Q")
TIMELINE_BIN_S = 0.1
"""The report's arrival timeline counts packets per 100 ms: fine enough to see a gap, small in a journal."""
DRAIN_S = 0.5
"""How long the legs listen after the last packet is sent: late packets are delayed, not lost."""


@dataclass(frozen=True)
class IceServer:
    """One TURN node as the service hands it to a client: where to allocate, and the credential."""

    node: str
    host: str
    port: int
    username: str
    credential: str

    @classmethod
    def from_service(cls, server: dict[str, Any]) -> IceServer:
        """From one ``ice_servers`` entry of ``POST /v1/av-sessions`` (its ``turn:host:port?transport=udp`` URL)."""
        url = next((u for u in server["urls"] if u.endswith("transport=udp")), None)
        if url is None:
            raise ValueError(f"ICE server {server.get('node')!r} offers no UDP TURN URL: {server['urls']}")
        host, _, port = url.removeprefix("turn:").split("?")[0].rpartition(":")
        return cls(server["node"], host, int(port), server["username"], server["credential"])


@dataclass
class Direction:
    """What one direction of the call saw: packets sent (by sequence and time) and their arrivals."""

    name: str
    sent_at: dict[int, int] = field(default_factory=dict)
    """Sequence number -> send time (ns)."""
    arrivals: list[tuple[int, int]] = field(default_factory=list)
    """(sequence, arrival time ns) in arrival order, duplicates included."""

    def between(self, since_ns: int, until_ns: int) -> Direction:
        """The packets sent in [since, until] (monotonic ns) and their arrivals: a drill step's share of the call."""
        sent = {s: t for s, t in self.sent_at.items() if since_ns <= t <= until_ns}
        return Direction(self.name, sent, [(s, t) for s, t in self.arrivals if s in sent])

    def summary(self) -> dict[str, Any]:
        """Sent, received, lost, duplicated, reordered; delay p50/p95/max, RFC 3550 jitter and the longest gap."""
        seen: set[int] = set()
        duplicates = reordered = 0
        highest = -1
        delays: list[float] = []
        jitter = 0.0
        previous_transit: int | None = None
        for seq, arrived in self.arrivals:
            if seq in seen:
                duplicates += 1
                continue
            seen.add(seq)
            if seq < highest:
                reordered += 1
            highest = max(highest, seq)
            transit = arrived - self.sent_at[seq]
            delays.append(transit / 1e6)
            if previous_transit is not None:  # J(i) = J(i-1) + (|D(i-1,i)| - J(i-1)) / 16
                jitter += (abs(transit - previous_transit) / 1e6 - jitter) / 16
            previous_transit = transit
        gap_s, gap_seqs = self._longest_gap()
        lost = [s for s in self.sent_at if s not in seen]
        outside = [s for s in lost if s not in gap_seqs]
        sent_outside = len(self.sent_at) - len(gap_seqs)
        ordered = sorted(delays)
        return {
            "direction": self.name, "sent": len(self.sent_at), "received": len(seen), "lost": len(lost),
            "duplicated": duplicates, "reordered": reordered,
            "loss_pct": round(100 * len(lost) / max(1, len(self.sent_at)), 2),
            "loss_outside_gap_pct": round(100 * len(outside) / max(1, sent_outside), 2),
            "delay_ms_p50": _quantile(ordered, 0.5), "delay_ms_p95": _quantile(ordered, 0.95),
            "delay_ms_max": round(ordered[-1], 2) if ordered else None,
            "jitter_ms": round(jitter, 2), "longest_gap_s": round(gap_s, 3),
        }

    def _longest_gap(self) -> tuple[float, set[int]]:
        """The longest silence: between two arrivals, or from when the first packet was due (the last one
        due) to the first (last) arrival; and the sequence numbers sent into it, which are the gap's loss,
        not loss outside it. A packet is due at its send time plus the call's smallest one-way delay."""
        if not self.sent_at:
            return 0.0, set()
        first_sent, last_sent = min(self.sent_at.values()), max(self.sent_at.values())
        if not self.arrivals:
            return (last_sent - first_sent) / 1e9, set(self.sent_at)
        delay = min(t - self.sent_at[s] for s, t in self.arrivals)
        marks = [first_sent + delay, *sorted(t for _, t in self.arrivals), last_sent + delay]
        lo, hi = max(itertools.pairwise(marks), key=lambda pair: pair[1] - pair[0])
        inside = {s for s, sent in self.sent_at.items() if lo < sent + delay < hi}
        return (hi - lo) / 1e9, inside


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


@dataclass
class Leg:
    """One end of the call: its ICE servers, its relay on the current node, and the direction it receives."""

    name: str
    servers: list[IceServer]
    inbound: Direction
    relay: Relay | None = None
    ssrc: int = 0

    def open(self, index: int, timeout_s: float) -> Relay:
        server = self.servers[index]
        client = TurnClient(server.host, server.port, timeout_s)
        try:
            self.relay = client.open_relay(server.username, server.credential)
        except (TurnError, OSError):
            client.close()
            raise
        return self.relay

    def close(self, release: bool) -> None:
        if self.relay is not None:
            self.relay.close(release=release)
            self.relay = None


@dataclass
class CallReport:
    """The call's figures per direction and every move to another node."""

    nodes: list[str]
    directions: list[dict[str, Any]]
    moves: list[dict[str, Any]]
    seconds: float
    dropped: str = ""
    """Why the call ended early (no node could carry it), empty when it ran its length."""
    raw: list[Direction] = field(default_factory=list)
    clock_offset_ns: int = 0
    """Wall clock minus monotonic clock when the call began: turns a journal's times into the call's."""

    def window(self, since: float, until: float) -> list[dict[str, Any]]:
        """Each direction's figures for the packets sent between two wall-clock times (a fault's hold)."""
        lo, hi = int(since * 1e9) - self.clock_offset_ns, int(until * 1e9) - self.clock_offset_ns
        return [d.between(lo, hi).summary() for d in self.raw]

    def timeline(self) -> dict[str, Any]:
        """Packets that arrived per TIMELINE_BIN_S in each direction, from the first packet sent (wall clock)."""
        starts = [min(d.sent_at.values()) for d in self.raw if d.sent_at]
        if not starts:
            return {}
        start, bin_ns = min(starts), int(TIMELINE_BIN_S * 1e9)
        end = max([start, *(t for d in self.raw for _, t in d.arrivals), *(max(d.sent_at.values()) for d in self.raw
                                                                           if d.sent_at)])
        counts = {d.name: [0] * ((end - start) // bin_ns + 1) for d in self.raw}
        for d in self.raw:
            for _, arrived in d.arrivals:
                counts[d.name][(arrived - start) // bin_ns] += 1
        return {"start": round((start + self.clock_offset_ns) / 1e9, 3), "bin_s": TIMELINE_BIN_S, "received": counts}

    def as_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "directions": self.directions, "moves": self.moves,
                "seconds": round(self.seconds, 3), "dropped": self.dropped, "timeline": self.timeline(),
                "longest_gap_s": max((d["longest_gap_s"] for d in self.directions), default=0.0),
                "loss_outside_gap_pct": max((d["loss_outside_gap_pct"] for d in self.directions), default=0.0)}


class MediaCall:
    """A call between two legs, through the node at ``start`` in their ICE server lists, moving on when it fails."""

    def __init__(self, patient: list[IceServer], doctor: list[IceServer], start: int = 0,
                 restart_after_s: float = 1.0, packets_per_s: int = PACKETS_PER_S,
                 setup_timeout_s: float = 2.0) -> None:
        if not patient or [s.node for s in patient] != [s.node for s in doctor]:
            raise ValueError("both legs need the same, non-empty list of TURN nodes")
        if not 0 <= start < len(patient):
            raise ValueError(f"start must name one of the {len(patient)} TURN nodes, got {start}")
        self.legs = (Leg("patient", patient, Direction("doctor->patient"), ssrc=0x1A2B3C4D),
                     Leg("doctor", doctor, Direction("patient->doctor"), ssrc=0x5E6F7A8B))
        self.index, self.restart_after_s, self.setup_timeout_s = start, restart_after_s, setup_timeout_s
        self.interval_ns = int(1e9 / packets_per_s)
        self.moves: list[dict[str, Any]] = []
        self.nodes: list[str] = []
        self.last_arrival = time.monotonic()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.clock_offset_ns = time.time_ns() - time.monotonic_ns()

    @property
    def node(self) -> str:
        return self.legs[0].servers[self.index].node

    def flowing(self) -> bool:
        """Media has arrived both ways on the current node, and recently."""
        return all(leg.inbound.arrivals for leg in self.legs) and self.silent_for() < 0.2

    def silent_for(self) -> float:
        """Seconds since media last arrived in either direction: what a drill's probe asks each round."""
        with self._lock:
            return time.monotonic() - self.last_arrival

    def run(self, duration_s: float) -> CallReport:
        """Carry the call for ``duration_s`` (or until ``stop``), then drain and report."""
        started = time.monotonic()
        dropped = ""
        try:
            self._connect(first=True)
            dropped = self._stream(started + duration_s)
        except TurnError as exc:
            dropped = str(exc)
        finally:
            self._drain()
            for leg in self.legs:
                leg.close(release=not dropped)
        raw = [leg.inbound for leg in reversed(self.legs)]
        return CallReport(self.nodes, [d.summary() for d in raw], self.moves, time.monotonic() - started, dropped,
                          raw, self.clock_offset_ns)

    def _connect(self, first: bool = False) -> None:
        """Both legs on the current node, each bound to the other's relayed address; else the next node."""
        tried = []
        for _ in range(len(self.legs[0].servers)):
            try:
                patient, doctor = (leg.open(self.index, self.setup_timeout_s) for leg in self.legs)
                patient.bind(doctor.relayed)
                doctor.bind(patient.relayed)
                self.nodes.append(self.node)
                with self._lock:
                    self.last_arrival = time.monotonic()
                return
            except (TurnError, OSError) as exc:
                tried.append(f"{self.node}: {exc}")
                for leg in self.legs:
                    leg.close(release=False)
                if first:
                    raise TurnError(f"the call could not start on {self.node}: {exc}") from exc
                self.index = (self.index + 1) % len(self.legs[0].servers)
        raise TurnError("no TURN node could carry the call: " + "; ".join(tried))

    def _stream(self, until: float) -> str:
        selector = selectors.DefaultSelector()
        self._watch(selector)
        seq, next_send = 0, time.monotonic_ns()
        try:
            while time.monotonic() < until and not self.stop.is_set():
                now = time.monotonic_ns()
                if now >= next_send:
                    self._send(seq, now)
                    seq, next_send = seq + 1, next_send + self.interval_ns
                for key, _ in selector.select(timeout=max(0.0, (next_send - time.monotonic_ns()) / 1e9)):
                    self._receive(key.data)
                if self.silent_for() > self.restart_after_s:
                    self._move(selector)
        except TurnError as exc:
            return str(exc)
        finally:
            selector.close()
        return ""

    def _watch(self, selector: selectors.BaseSelector) -> None:
        for leg in self.legs:
            assert leg.relay is not None
            selector.register(leg.relay.sock, selectors.EVENT_READ, leg)

    def _move(self, selector: selectors.BaseSelector) -> None:
        """An ICE restart: both legs leave the silent node for the next one that carries the call."""
        began, left = time.monotonic(), self.node
        for leg in self.legs:
            assert leg.relay is not None
            selector.unregister(leg.relay.sock)
            leg.close(release=False)
        self.index = (self.index + 1) % len(self.legs[0].servers)
        self._connect()
        self._watch(selector)
        self.moves.append({"from": left, "to": self.node, "at": round(began + self.clock_offset_ns / 1e9, 3),
                           "setup_s": round(time.monotonic() - began, 3)})

    def _send(self, seq: int, now_ns: int) -> None:
        patient, doctor = self.legs
        for leg, other in ((patient, doctor), (doctor, patient)):
            assert leg.relay is not None
            header = RTP_HEADER.pack(0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, leg.ssrc)
            leg.relay.send(header + STAMP.pack(seq) + bytes(PAYLOAD_BYTES - STAMP.size))
            other.inbound.sent_at[seq] = now_ns

    def _receive(self, leg: Leg) -> None:
        if leg.relay is None:
            return
        arrived = time.monotonic_ns()
        for payload in leg.relay.received():
            if len(payload) < RTP_HEADER.size + STAMP.size:
                continue
            (seq,) = STAMP.unpack_from(payload, RTP_HEADER.size)
            if seq in leg.inbound.sent_at:
                leg.inbound.arrivals.append((seq, arrived))
                with self._lock:
                    self.last_arrival = time.monotonic()

    def _drain(self) -> None:
        """Packets still in flight when sending stops are delayed, not lost: listen DRAIN_S more."""
        legs = {leg.relay.sock: leg for leg in self.legs if leg.relay is not None}
        deadline = time.monotonic() + DRAIN_S
        while legs and (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select(list(legs), [], [], left)
            for sock in readable:
                self._receive(legs[sock])
