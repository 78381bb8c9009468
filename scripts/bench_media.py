"""Benchmark the media probe and the media line: what the probe sustains, and a call's quality under impairments.

Prints figures; asserts nothing. Needs the local stack up (a call is set up through the service and relayed by
TURN node 0, through the media line in front of it). Two parts:
  overhead      the call at rising packet rates: packets/s sent and received each way, CPU seconds the probe
                used per second of call (one Python thread carries both legs)
  impairments   a 50 packets/s call for each impairment of the media line in turn: loss, one-way delay, RFC 3550
                jitter, duplicates; each impairment is taken back afterwards (and on SIGINT/SIGTERM)
  control       the drill's own SSH to TURN node 0 while a call floods it: commands' round trips with a clean
                node, then with its UDP squeezed to 64 kbit/s (the udp-rate fault, as media-path holds it,
                reached over SSH as on a real server), and the call's loss under each
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import time

from chaos.av_call import call_ice_servers, start_call
from chaos.faults import FaultContext, inject
from harness.cli import undo_then_exit
from harness.core.media_call import MediaCall
from harness.core.media_line import MediaLine, impaired
from harness.core.outputs import StackOutputs
from harness.core.ssh import Sessions

RATES = (50, 200, 500, 1000, 2000)
SQUEEZE = {"role": "av", "index": 0, "rate_kbit": 64}
"""The udp-rate fault's arguments in chaos/experiments/media-path.yaml."""
COMMANDS = 20
IMPAIRMENTS = ({}, {"delay_ms": 50}, {"delay_ms": 150, "jitter_ms": 40}, {"loss": 0.05}, {"duplicate": 0.03},
               {"rate_kbit": 128}, {"rate_kbit": 64})


def overhead(outputs: StackOutputs, seconds: float) -> None:
    for rate in RATES:
        patient, doctor = call_ice_servers(outputs, random.Random())
        call = MediaCall(patient, doctor, packets_per_s=rate, restart_after_s=seconds)
        cpu = time.process_time()
        report = call.run(seconds)
        used = (time.process_time() - cpu) / report.seconds
        each = ", ".join(f"{d['direction']} sent {d['sent'] / seconds:.0f}/s received {d['received'] / seconds:.0f}/s "
                         f"loss {d['loss_pct']}% delay p95 {d['delay_ms_p95']} ms" for d in report.directions)
        print(f"asked {rate} packets/s each way: {each}; probe CPU {used:.2f} s per s", flush=True)


def impairments(outputs: StackOutputs, seconds: float) -> None:
    line = MediaLine(outputs.media_line_api or "", outputs.secret("media_line_token"))
    node = outputs.av_nodes[0].name
    for values in IMPAIRMENTS:
        with impaired(line, node, values) if values else contextlib.nullcontext():
            patient, doctor = call_ice_servers(outputs, random.Random())
            report = MediaCall(patient, doctor, restart_after_s=seconds).run(seconds)
        each = "; ".join(f"{d['direction']} loss {d['loss_pct']}% delay p50 {d['delay_ms_p50']} p95 "
                         f"{d['delay_ms_p95']} ms jitter {d['jitter_ms']} ms dup {d['duplicated']} "
                         f"reordered {d['reordered']}" for d in report.directions)
        print(f"{values or 'clean line'}: {each}", flush=True)


def control(outputs: StackOutputs, seconds: float) -> None:
    reached = outputs.reached_by("ssh")
    node = outputs.av_nodes[0].name
    for squeezed in (False, True):
        fault = FaultContext(reached, None)
        with Sessions(reached) as ssh, contextlib.ExitStack() as held:
            call = start_call(outputs, random.Random(), 0, seconds + 120, restart_after_s=60)
            held.callback(call.finish)
            if squeezed:
                held.enter_context(inject(fault, "udp-rate", SQUEEZE))
            since, took = time.time(), []
            for _ in range(COMMANDS):
                started = time.monotonic()
                ssh.run(node, "true", timeout_s=60)
                took.append(time.monotonic() - started)
            until = time.time()
            held.close()
            report = call.finish()
        fault.close()
        took.sort()
        loss = (", ".join(f"{d['direction']} {d['loss_pct']}%" for d in report.window(since, until)) if report
                else "no report")
        print(f"{'udp-rate 64 kbit/s' if squeezed else 'clean node'}: {COMMANDS} SSH commands to {node}, round trip "
              f"min {took[0]:.2f} s, p50 {took[COMMANDS // 2]:.2f} s, max {took[-1]:.2f} s; "
              f"the call's loss meanwhile {loss}", flush=True)


PARTS = {"overhead": overhead, "impairments": impairments, "control": control}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("parts", nargs="*", choices=[*PARTS, []], help="default: both")
    args = parser.parse_args()
    for kind in (signal.SIGTERM, signal.SIGINT):  # as `harness chaos`: a signal undoes the impairment first
        signal.signal(kind, undo_then_exit)
    outputs = StackOutputs.load(args.stack)
    for part in args.parts or PARTS:
        PARTS[part](outputs, args.seconds)


if __name__ == "__main__":
    main()
