"""``harness``: bring the topology up and down, drill it, check it, and seal the evidence.

Exit codes, the same for every command (a pipeline step tells outcomes apart by them):
0 success; 1 a verdict failed (a drill, a check, a stale copy, a tampered bundle); 2 bad input (an
argument, the stack config, an experiment file, a key or fingerprint named); 3 could not run (the
engine, the stack or a host did not answer; any other error); ``verify-evidence`` adds 4, intact but
signed by nobody named; 130 interrupted (SIGINT), 143 terminated (SIGTERM), after the undo.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import signal
import sys
from typing import TYPE_CHECKING

from harness.core.outputs import TARGETS
from harness.core.paths import DEFAULT_STACK
from harness.core.progress import say

if TYPE_CHECKING:
    from harness.evidence.bundle import Trust

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_COULD_NOT_RUN = 3


class UsageError(ValueError):
    """Options that do not go together: bad input, named in the message."""


def _print_json(document: object) -> None:
    """``--json``: one document on standard output, for a pipeline to read (progress stays on standard error)."""
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()


def _cmd_setup(args: argparse.Namespace) -> int:
    from harness.provisioning.stack_ops import prepare_disks, setup

    setup()
    say("setup complete: engine answers, base image and Toxiproxy are cached")
    if args.disks:
        mounted = prepare_disks(args.stack)
        say(f"disks of stack {args.stack} mounted: {', '.join(mounted) or 'none declared'}")
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from harness.provisioning.stack_ops import up

    result = up(args.stack)
    r = result.report
    say(
        f"stack {args.stack} is up in {result.seconds:.1f} s: {len(r.created)} created, {len(r.replaced)} replaced, "
        f"{len(r.started)} started, {len(r.removed)} removed, {len(r.unchanged)} unchanged"
    )
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from harness.provisioning.stack_ops import down

    report = down(args.stack)
    say(f"stack {args.stack} is down: {len(report.removed)} objects removed")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from harness.provisioning.stack_ops import preview

    run = preview(args.stack)
    by_type: dict[str, int] = {}
    for resource in run.graph.resources:
        by_type[resource.type] = by_type.get(resource.type, 0) + 1
    if args.json:
        _print_json({"stack": args.stack, "resources": len(run.graph.resources), "by_type": by_type,
                     "violations": []})
        return 0
    for kind, count in sorted(by_type.items()):
        print(f"{count:4d}  {kind}")
    say(f"stack {args.stack}: {len(run.graph.resources)} resources, every policy rule holds")
    return 0


def _cmd_outputs(args: argparse.Namespace) -> int:
    from harness.core.outputs import StackOutputs, outputs_from_pulumi_cli, save_outputs

    if args.save and not args.pulumi:
        raise UsageError("outputs --save: only with --pulumi (`harness up` saves its own outputs)")
    if args.pulumi:
        raw = outputs_from_pulumi_cli(args.stack)
        if args.save:  # a stack `pulumi up` made: every drill, check and restore reads what is saved here
            say(f"saved the outputs of stack {args.stack} as `pulumi up` left them: {save_outputs(args.stack, raw)}")
        outputs = StackOutputs.parse(args.stack, raw)
    else:
        outputs = StackOutputs.load(args.stack)
    view = outputs.raw if args.show_secrets else outputs.public()
    if args.json:
        json.dump(view, sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        for key, value in sorted(view.items()):
            print(f"{key}: {json.dumps(value)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from checks.runner import DEFAULT_WAIVERS, run_checks, summary
    from harness.core.paths import timestamped

    out = timestamped("checks", args.out)
    run = run_checks(args.stack, out, tuple(args.host), Path(args.waivers or DEFAULT_WAIVERS), args.workers)
    if args.json:
        _print_json({"ok": run.ok, "counts": run.by_status(), "seconds": round(run.seconds, 1),
                     "failed": run.failed, "records": str(run.results_path), "junit": str(run.junit_path)})
    else:
        print(summary(run))
    return 0 if run.ok else EXIT_FAILED


def _cmd_backup(args: argparse.Namespace) -> int:
    from harness.core.outputs import StackOutputs
    from harness.core.pgbackrest import PgBackRest
    from harness.core.ssh import Sessions

    if args.status:
        from checks.backups import copies_freshness, describe

        copies = copies_freshness(args.stack)
        print(describe(copies))
        return 1 if any(c.stale for c in copies) else 0
    outputs = StackOutputs.load(args.stack)
    sites = [outputs.backup_site(name) for name in args.site] or list(outputs.backup_sites)
    healthy = True
    with Sessions(outputs) as ssh:
        pgbackrest = PgBackRest(outputs, ssh)
        for site in sites:
            record = pgbackrest.backup(site, args.type)
            print(f"{record.site}: {record.type} backup {record.label}, database {record.database_bytes / 1e6:.1f} "
                  f"MB, stored {record.repository_bytes / 1e6:.1f} MB, {record.seconds:.1f} s "
                  f"({record.database_bytes / 1e6 / max(record.seconds, 1e-3):.1f} MB/s)")
            if args.verify:
                result = pgbackrest.verify(site)
                healthy &= result.ok
                print(f"{site.name}: verify {'ok' if result.ok else 'FAILED'}" +
                      "".join(f"\n  {p}" for p in result.problems))
    return 0 if healthy else 1


def _cmd_restore(args: argparse.Namespace) -> int:

    from chaos.restore_runs import describe_restores, run_restores
    from harness.core.paths import timestamped

    out = timestamped("restore", args.out)
    data = run_restores(args.stack, args.site, out, args.sentinel_rows, args.fill_gb, target=args.target)
    print(describe_restores(data))
    print(f"results: {out / 'restore.json'}")
    return 0 if all(r["sentinel_verified"] for r in data["drills"]) else 1


def _cmd_load(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.core.paths import timestamped
    from loadtests.runner import LoadPlan, describe, run_load

    out = timestamped("load", args.out)
    plan = LoadPlan(users=args.users, spawn_rate=args.spawn_rate, run_time_s=args.run_time,
                    max_requests=args.max_requests, workers=args.workers)
    run = run_load(args.stack, plan, out, Path(args.chaos) if args.chaos else None)
    if args.json:
        _print_json({**run.summary, "out_dir": str(run.out_dir)})
    else:
        print(describe(run))
    return 0 if run.summary["availability"]["steady"]["verdict"] != "fail" else EXIT_FAILED


def _cmd_chaos(args: argparse.Namespace) -> int:
    from chaos.cleanup import cleanup
    from chaos.experiment import find_experiments
    from chaos.faults import FaultContext, describe
    from chaos.runner import describe_journals, run_experiments
    from harness.core.outputs import StackOutputs
    from harness.core.paths import timestamped
    from harness.provisioning.engine import local_containers

    experiments = find_experiments(args.experiment)  # every file validated before anything is injected
    outputs = StackOutputs.load(args.stack).reached_by(args.target)
    containers = local_containers(outputs)
    if args.cleanup:
        undone = cleanup(containers, outputs)
        print("\n".join(f"undone: {u}" for u in undone) or "nothing to clean up: no leftover fault")
        return 0
    if args.dry_run:
        context = FaultContext(outputs, containers)
        for experiment in experiments:
            print(f"{experiment.name} ({experiment.failure_mode}): {experiment.title}")
            for step in experiment.method:
                print(f"  {step.name}: {describe(context, step.fault, step.arguments)}; hold {step.hold_s:.0f} s")
        return 0
    out = timestamped("chaos", args.out)
    journals = run_experiments(args.stack, args.experiment, out, with_load=args.load, target=args.target)
    if args.json:
        _print_json([{"experiment": j.experiment["name"], "verdict": j.verdict, "status": j.status,
                      "reason": j.reason, "measurements": j.measurements, "goals": j.goals, "journal": str(j.path)}
                     for j in journals])
    else:
        print(describe_journals(journals))
        print(f"journals: {out}")
    return 0 if all(j.verdict in ("pass", "not_tested") for j in journals) else EXIT_FAILED  # not_tested: not injected


def undo_then_exit(signum: int, frame: object) -> None:
    """The first SIGTERM or SIGINT unwinds every fault's ``finally``; later ones must not cut that undo short."""
    for kind in (signal.SIGTERM, signal.SIGINT):
        signal.signal(kind, _while_undoing)
    say(f"{signal.Signals(signum).name}: undoing whatever is in effect, then exiting")
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _while_undoing(signum: int, frame: object) -> None:
    say(f"{signal.Signals(signum).name} ignored: still undoing what is in effect (SIGKILL stops at once; "
        "`harness chaos --cleanup` then finds what was left)")


def _cmd_all(args: argparse.Namespace) -> int:
    from harness.pipeline import run_all

    resume = args.resume is not None
    fill_gb = 0.0 if args.quick else args.restore_fill_gb
    state = run_all(args.stack, resume, args.resume or None, quick=args.quick, take_down=args.down, fill_gb=fill_gb,
                    target=args.target)
    failed_steps = [n for n, s in state.data["steps"].items() if s.get("status") == "failed"]
    evidence = json.loads((state.run_dir / "evidence.json").read_text())
    print(f"evidence: {state.run_dir / 'index.html'}")
    for step, info in state.data["steps"].items():
        print(f"  {step:<8} {info.get('status'):<7} {info.get('seconds', '')}")
    print("requirements: " + ", ".join(f"{n} {k}" for k, n in evidence["summary"].items() if n))
    if failed_steps:
        print(f"failed step: {failed_steps[0]}; resume with `harness all --resume {state.data['id']}`")
    return 1 if failed_steps or evidence["summary"].get("fail") else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.evidence.report import build_report
    from harness.evidence.signing_key import SigningKeyError, load_key

    run_dir = Path(args.run_dir).resolve()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    if args.attestations:
        from harness.evidence.attestations import save_snapshot

        save_snapshot(Path(args.attestations), run_dir)
    try:
        key, why_unsigned = load_key(), ""
    except SigningKeyError as exc:
        key, why_unsigned = None, str(exc)
    report = build_report(run_dir, run.get("stack", args.stack), run.get("id", run_dir.name),
                          run.get("started", run_dir.name), steps=run.get("steps"), signing_key=key)
    print(f"evidence: {run_dir / 'index.html'}; " + ", ".join(
        f"{n} {k}" for k, n in report.evidence["summary"].items() if n))
    if key is None:
        print(f"NOT SIGNED: {why_unsigned}; the rebuilt bundle has no manifest signature")
    else:
        print(f"signed by {key.fingerprint}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from harness.core.paths import EVIDENCE_KEY
    from harness.evidence.signing_key import init_key, load_key

    if args.action == "init":
        key, created = init_key()
        print(f"{'created' if created else 'kept the existing'} evidence signing key {EVIDENCE_KEY} (mode 0600)")
        if created:
            print("  back it up: every bundle it signs is verified against it; it is never copied into a bundle")
    else:
        key = load_key()
        print(f"evidence signing key {EVIDENCE_KEY}")
    print(f"  fingerprint {key.fingerprint}")
    print("  public key (give it to assessors):\n" + key.public_pem.rstrip())
    return 0


def _cmd_drill_access(args: argparse.Namespace) -> int:
    """The wrapper and sudoers file for servers the stack did not create (platform existing), to install by hand."""
    from pathlib import Path

    from infra.drill_access import SUDOERS_DIR, WRAPPER, sudoers_text, wrapper_text, wrapper_version

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wrapper, sudoers = out / "ihh-drill", out / f"sudoers-{args.user}"
    wrapper.write_text(wrapper_text(), encoding="utf-8")
    wrapper.chmod(0o755)
    sudoers.write_text(sudoers_text(args.user), encoding="utf-8")
    print(f"wrote {wrapper} (version {wrapper_version()}) and {sudoers}; on every host, as root:")
    print(f"  install -o root -g root -m 0755 ihh-drill {WRAPPER}")
    print(f"  visudo -cf sudoers-{args.user} && install -o root -g root -m 0440 sudoers-{args.user} "
          f"{SUDOERS_DIR}/{args.user}")
    print(f"and remove any other sudo rule of {args.user}: `harness check` fails a host where it may sudo more")
    return 0


def _trust(args: argparse.Namespace) -> Trust:
    from pathlib import Path

    from harness.core.paths import EVIDENCE_TRUST
    from harness.evidence.bundle import Trust
    from harness.evidence.signing_key import normalise_fingerprint, read_public_key, trusted_signers

    if args.key:
        return Trust(public_pem=read_public_key(Path(args.key)), source=f"the key in {args.key}")
    if args.fingerprint:
        return Trust(fingerprints=frozenset(normalise_fingerprint(f) for f in args.fingerprint))
    trust_file = Path(args.trust) if args.trust else EVIDENCE_TRUST
    if args.trust and not trust_file.is_file():
        raise FileNotFoundError(f"--trust {args.trust}: no such file")
    return Trust(trusted=trusted_signers(trust_file), source=str(trust_file) if trust_file.is_file() else "")


def _cmd_verify_evidence(args: argparse.Namespace) -> int:
    """0 verified; 1 tampered (or signed by another key than the one named); 2 bad input; 4 signer unknown."""
    from pathlib import Path

    from harness.evidence.bundle import EXIT_CODES, verify

    bundle = Path(args.dir)
    try:
        if not bundle.is_dir():
            raise FileNotFoundError(f"{args.dir}: no such bundle folder")
        result = verify(bundle, _trust(args))
    except (OSError, ValueError) as exc:  # the folder, a key, a fingerprint or a trust file named
        if args.json:
            print(json.dumps({"bundle": args.dir, "status": "bad_input", "exit_code": EXIT_CODES["bad_input"],
                              "problems": [str(exc)]}))
        else:
            print(f"BAD INPUT: {exc}", file=sys.stderr)
        return EXIT_CODES["bad_input"]
    if args.json:
        print(json.dumps(result.to_json(bundle), indent=2))
        return EXIT_CODES[result.status]
    print(f"{args.dir}: {result.files} files listed; signer {result.signer_fingerprint or 'unknown'}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    for note in result.notes:
        print(f"  note: {note}")
    print({"verified": f"VERIFIED: every file matches the manifest, signed by {result.signer}",
           "tampered": "TAMPERED: not verified (see the problems above)",
           "signer_unknown": "INTACT, SIGNER UNVERIFIED: every file matches the signed manifest, but nothing you "
                             "named says who signed it (--key, --fingerprint or --trust)"}[result.status])
    return EXIT_CODES[result.status]


def _target_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--target", choices=TARGETS, default=None,
                         help="how drills reach every host: ssh (as a real server is reached; the local containers "
                              "too) or docker (local containers, from the engine's side); default: as the stack's "
                              "outputs say (docker for local containers, ssh for every other host)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.metadata.version('ihh-harness')}")
    parser.add_argument("-s", "--stack", default=DEFAULT_STACK,
                        help=f"stack name (stacks/Pulumi.<stack>.yaml); default: $IHH_STACK or {DEFAULT_STACK}")
    # --stack is also taken after the command (`harness up --stack local`); there it wins
    stack_option = argparse.ArgumentParser(add_help=False)
    stack_option.add_argument("-s", "--stack", default=argparse.SUPPRESS, help="stack name (as before the command)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser = functools.partial(sub.add_parser, parents=[stack_option])  # type: ignore[method-assign]
    setup = sub.add_parser("setup", help="install-time preparation: engine, base image, Toxiproxy")
    setup.add_argument("--disks", action="store_true",
                       help="also make and mount the stack's WAL disks: before `pulumi up` of a local stack")
    setup.set_defaults(func=_cmd_setup)
    preview = sub.add_parser("preview", help="run the program offline and check every policy rule")
    preview.add_argument("--json", action="store_true", help="the resource counts as JSON")
    preview.set_defaults(func=_cmd_preview)
    sub.add_parser("up", help="create or converge the stack").set_defaults(func=_cmd_up)
    sub.add_parser("down", help="remove every container, network and volume of the stack").set_defaults(
        func=_cmd_down)
    check = sub.add_parser("check", help="run the host-check suites over SSH against every host")
    check.add_argument("--json", action="store_true", help="the outcome as one JSON document on standard output")
    check.add_argument("--out", help="folder for checks.jsonl and checks-junit.xml (default evidence/checks/<time>)")
    check.add_argument("--host", action="append", default=[], help="only this host (repeatable)")
    check.add_argument("--waivers", help="waiver file (default checks/waivers.yaml)")
    check.add_argument("--workers", type=int, default=4, help="hosts checked in parallel (default 4)")
    check.set_defaults(func=_cmd_check)
    backup = sub.add_parser("backup", help="back up into every repository (or --site), then verify them")
    backup.add_argument("--type", choices=["full", "diff", "incr"], default="incr", help="backup type (default incr)")
    backup.add_argument("--site", action="append", default=[], help="only this backup site (repeatable)")
    backup.add_argument("--no-verify", dest="verify", action="store_false", help="skip `pgbackrest verify`")
    backup.add_argument("--status", action="store_true",
                        help="take no backup: show how fresh each copy is under ihh:backupSchedule (exit 1 if stale)")
    backup.set_defaults(func=_cmd_backup)
    restore = sub.add_parser("restore", help="restore drill: lose the database, restore from each backup copy")
    restore.add_argument("--from", dest="site", action="append", default=[],
                         help="backup site to restore from (repeatable; default every site, one after the other)")
    restore.add_argument("--sentinel-rows", type=int, default=1000, help="rows of the sentinel data set")
    restore.add_argument("--out", help="folder for restore.json (default evidence/restore/<time>)")
    restore.add_argument("--fill-gb", type=float, default=0.0,
                         help="grow the database to this size first (for throughput at realistic sizes)")
    _target_option(restore)
    restore.set_defaults(func=_cmd_restore)
    load = sub.add_parser("load", help="patient and doctor load through both uplinks; availability verdict")
    load.add_argument("--json", action="store_true", help="the outcome as one JSON document on standard output")
    load.add_argument("--users", type=int, default=20, help="concurrent simulated users (default 20)")
    load.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default 10)")
    load.add_argument("--run-time", type=int, default=60, help="seconds of load at most (default 60)")
    load.add_argument("--max-requests", type=int, default=20_000, help="requests at most (default 20000)")
    load.add_argument("--workers", type=int, default=0, help="Locust worker processes under a master (default 0)")
    load.add_argument("--chaos", help="folder of chaos journals whose measured outages feed the downtime model")
    load.add_argument("--out", help="folder for the artefacts (default evidence/load/<time>)")
    load.set_defaults(func=_cmd_load)
    chaos = sub.add_parser("chaos", help="failover drills: chaos/experiments/*.yaml, or those named")
    chaos.add_argument("--json", action="store_true", help="the outcome as one JSON document on standard output")
    chaos.add_argument("experiment", nargs="*", help="experiment names or YAML paths (default: all)")
    chaos.add_argument("--dry-run", action="store_true", help="print what would be injected where, inject nothing")
    chaos.add_argument("--cleanup", action="store_true", help="remove every leftover fault the harness made")
    chaos.add_argument("--no-load", dest="load", action="store_false", help="run without Locust alongside")
    chaos.add_argument("--out", help="folder for the journals (default evidence/chaos/<time>)")
    _target_option(chaos)
    chaos.set_defaults(func=_cmd_chaos)
    everything = sub.add_parser("all", help="the main job: up, check, chaos, restore, load, signed evidence report")
    everything.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN_ID",
                            help="go on with an unfinished run (the latest one without RUN_ID)")
    everything.add_argument("--quick", action="store_true",
                            help="a shorter run: three drills, one restore, 30 s of load (for trying it out)")
    everything.add_argument("--down", action="store_true", help="take the stack down at the end")
    everything.add_argument("--restore-fill-gb", type=float, default=1.0,
                            help="grow the database to this size before the restores, so their throughput, and the "
                                 "projection built on it, is measured at a meaningful size (default 1)")
    _target_option(everything)
    everything.set_defaults(func=_cmd_all)
    report = sub.add_parser("report", help="(re)build the evidence report of a run folder from its artefacts")
    report.add_argument("run_dir", help="the run's folder, e.g. evidence/<run-id>")
    report.add_argument("--attestations", help="judge with this attestation file instead of the one the run "
                                               "recorded (validated, then kept in the run folder)")
    report.set_defaults(func=_cmd_report)
    verify = sub.add_parser("verify-evidence", help="check an evidence bundle's manifest hashes and signature")
    verify.add_argument("dir", help="the bundle folder")
    named = verify.add_mutually_exclusive_group()
    named.add_argument("--key", help="the signer's PEM public key (or their private key file)")
    named.add_argument("--fingerprint", action="append",
                       help="the signer's key fingerprint, sha256:<hex> (repeatable; the report prints it)")
    named.add_argument("--trust", help="a trust file of signers, `sha256:<hex> name` a line "
                                       "(default $IHH_EVIDENCE_TRUST, ~/.config/ihh/trusted-evidence-signers)")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(func=_cmd_verify_evidence)
    keys = sub.add_parser("keys", help="the operator's evidence signing key, which outlives every stack")
    keys.add_argument("action", choices=["init", "show"], help="init: create it once (kept if it exists); show")
    keys.set_defaults(func=_cmd_keys)
    access = sub.add_parser("drill-access", help="write the drill wrapper and its sudoers file, for existing servers")
    access.add_argument("--out", required=True, help="folder to write ihh-drill and sudoers-<user> into")
    access.add_argument("--user", default="ihh-ops", help="the operations account (existing.sshUser)")
    access.set_defaults(func=_cmd_drill_access)
    outputs = sub.add_parser("outputs", help="print the stack's outputs contract")
    outputs.add_argument("--json", action="store_true", help="print JSON")
    outputs.add_argument("--show-secrets", action="store_true", help="print secrets instead of [secret]")
    outputs.add_argument("--pulumi", action="store_true", help="read outputs from the Pulumi CLI's stack")
    outputs.add_argument("--save", action="store_true",
                         help="with --pulumi: save them, so check, chaos, load and restore run on that stack")
    outputs.set_defaults(func=_cmd_outputs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # every command that injects a fault (chaos, restore, all) undoes it in `finally`: SIGTERM must unwind too
    previous = {kind: signal.signal(kind, undo_then_exit) for kind in (signal.SIGTERM, signal.SIGINT)}
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for a person, not a traceback
        from chaos.experiment import ExperimentError
        from harness.core.outputs import OutputsError, UnknownNameError
        from harness.evidence.attestations import AttestationError
        from harness.evidence.signing_key import SigningKeyError
        from infra.config import ConfigError

        kinds = {UsageError: "usage", ConfigError: "config error", ExperimentError: "experiment error",
                 OutputsError: "outputs error",
                 UnknownNameError: "unknown name", SigningKeyError: "signing key",
                 AttestationError: "attestation error"}
        bad_input = isinstance(exc, tuple(kinds))
        kind = kinds.get(type(exc), type(exc).__name__)
        print(f"harness {args.command}: {kind}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if bad_input else EXIT_COULD_NOT_RUN
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)


if __name__ == "__main__":
    sys.exit(main())
