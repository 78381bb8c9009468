"""`harness all`'s steps: the steady-state drill is the load step's, and the chaos step does not drill it twice."""

from __future__ import annotations

from pathlib import Path

import harness.pipeline as pipeline
from chaos.experiment import find_experiments
from harness.pipeline import STEADY_STATE_DRILL, STEPS


def test_the_steady_state_drill_runs_in_the_load_step_and_not_twice(tmp_path: Path) -> None:
    steps = pipeline._steps("local", tmp_path, quick=False)
    assert set(steps) == set(STEPS[:-1])
    assert STEPS[-1] == "report"
    assert STEADY_STATE_DRILL in {e.name for e in find_experiments([])}


def test_the_chaos_step_drills_every_experiment_but_the_steady_state_one(tmp_path: Path, monkeypatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pipeline, "run_experiments", lambda _stack, names, *_a, **_k: seen.append(names))
    pipeline._steps("local", tmp_path, quick=False)["chaos"]()
    every = {e.name for e in find_experiments([])}
    assert set(seen[0]) == every - {STEADY_STATE_DRILL}
    pipeline._steps("local", tmp_path, quick=False)["load"]()
    assert seen[1] == [STEADY_STATE_DRILL]
