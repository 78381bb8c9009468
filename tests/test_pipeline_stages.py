"""`harness all`'s stages: steps of one stage run side by side, each outcome saved, a failure stops the run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import harness.pipeline as pipeline
from chaos.experiment import find_experiments
from harness.pipeline import STAGES, STEADY_STATE_DRILL, STEPS, RunState


def _state(tmp_path: Path) -> RunState:
    state = RunState(tmp_path, {"id": "t", "stack": "local", "steps": {}})
    state.save()
    return state


def test_steps_of_one_stage_run_at_the_same_time_and_both_are_recorded(tmp_path: Path) -> None:
    both_running = threading.Barrier(2, timeout=10)  # each step waits for the other: only side by side can pass
    ran: list[str] = []

    def step(name: str, fail: bool = False):
        def run() -> None:
            both_running.wait()
            ran.append(name)
            if fail:
                raise RuntimeError(f"{name} broke on purpose")
        return run

    state = _state(tmp_path)
    ok = pipeline._run_stage(state, ("load", "check"), {"load": step("load"), "check": step("check", fail=True)})
    assert not ok
    assert sorted(ran) == ["check", "load"]
    saved = json.loads((tmp_path / "run.json").read_text())["steps"]
    assert saved["load"]["status"] == "done"
    assert saved["check"]["status"] == "failed" and "broke on purpose" in saved["check"]["error"]


def test_the_steady_state_drill_runs_in_the_load_step_and_not_twice(tmp_path: Path) -> None:
    steps = pipeline._steps("local", tmp_path, quick=False)
    assert set(steps) == set(STEPS[:-1])
    assert STEPS[-1] == "report" and STAGES[-1] == ("report",)
    assert STEADY_STATE_DRILL in {e.name for e in find_experiments([])}
    assert STEPS.index("check") > STEPS.index("restore"), "host checks also show every drill's fault taken back"


def test_the_chaos_step_drills_every_experiment_but_the_steady_state_one(tmp_path: Path, monkeypatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pipeline, "run_experiments", lambda _stack, names, *_a, **_k: seen.append(names))
    pipeline._steps("local", tmp_path, quick=False)["chaos"]()
    every = {e.name for e in find_experiments([])}
    assert set(seen[0]) == every - {STEADY_STATE_DRILL}
    pipeline._steps("local", tmp_path, quick=False)["load"]()
    assert seen[1] == [STEADY_STATE_DRILL]
