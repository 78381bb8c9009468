"""The command line as a pipeline step: the stack named before or after the command, and its version."""

from __future__ import annotations

import importlib.metadata

import pytest

from harness.cli import build_parser


def test_the_stack_is_taken_before_or_after_the_command_and_after_wins() -> None:
    parser = build_parser()
    assert parser.parse_args(["-s", "prod", "outputs"]).stack == "prod"
    assert parser.parse_args(["outputs", "--stack", "prod"]).stack == "prod"
    assert parser.parse_args(["--stack", "local", "chaos", "-s", "prod"]).stack == "prod"


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        build_parser().parse_args(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out.strip() == f"harness {importlib.metadata.version('ihh-harness')}"


def test_exit_codes_tell_bad_input_from_could_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from harness.cli import EXIT_BAD_INPUT, EXIT_COULD_NOT_RUN, main

    assert main(["chaos", "--dry-run", "no-such-drill"]) == EXIT_BAD_INPUT
    assert "no-such-drill" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ended:  # argparse's own refusal is bad input too
        main(["chaos", "--no-such-flag"])
    assert ended.value.code == EXIT_BAD_INPUT
    if shutil.which("pulumi") is None:  # the CLI cannot be run here: nothing the user typed was wrong
        assert main(["outputs", "--pulumi"]) == EXIT_COULD_NOT_RUN
        assert "pulumi" in capsys.readouterr().err.lower()


def test_preview_json_is_one_document_on_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from harness.cli import main

    assert main(["preview", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)  # progress went to standard error
    assert document["violations"] == [] and document["resources"] == sum(document["by_type"].values())
    assert document["by_type"]["docker:index/container:Container"] >= 10


def test_a_stack_pulumi_up_made_is_saved_for_the_drills_and_its_secrets_stay_hidden(tmp_path) -> None:
    """`outputs --pulumi --save` with the outputs `pulumi stack output` prints (the CLI cannot run here: a
    stand-in prints what the program's own mock run resolved)."""
    import json
    import os
    import stat
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import program

    resolved = tmp_path / "stack-output.json"
    resolved.write_text(json.dumps(program("local").outputs))
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat {resolved}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "IHH_STATE_DIR": str(tmp_path / "state")}
    harness = [str(Path(sys.executable).with_name("harness"))]
    saved = subprocess.run([*harness, "outputs", "--pulumi", "--save", "-s", "local"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert saved.returncode == 0, saved.stderr
    assert "PRIVATE KEY" not in saved.stdout, "secrets printed without --show-secrets"
    path = tmp_path / "state" / "local" / "outputs.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    read = subprocess.run([*harness, "outputs", "--json", "-s", "local"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert read.returncode == 0 and json.loads(read.stdout)["ssh_user"], read.stderr
    refused = subprocess.run([*harness, "outputs", "--save"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "only with --pulumi" in refused.stderr
