"""`up` refuses a stack of its name that its own state did not make: another checkout's, or a killed run's whose
state went with its clone. Adopting its volumes gave a database that could not start (its standby's archive
reads failed on the other backups' cipher) and an `up` that waited 420 s for health that never came."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.core import state
from harness.provisioning.docker_apply import INSTANCE_LABEL, STACK_LABEL, DockerApplier, ForeignStackError


@dataclass
class _Volume:
    name: str
    labels: dict[str, str]

    @property
    def attrs(self) -> dict[str, Any]:
        return {"Name": self.name, "Labels": self.labels}


@dataclass
class _Volumes:
    found: list[_Volume] = field(default_factory=list)

    def list(self, filters: dict[str, list[str]]) -> list[_Volume]:
        assert f"{STACK_LABEL}=local" in filters["label"]
        return self.found


@dataclass
class _Client:
    volumes: _Volumes


def _applier(*labels: dict[str, str]) -> DockerApplier:
    found = [_Volume(f"ihh-local-vol-{i}", {STACK_LABEL: "local", **extra}) for i, extra in enumerate(labels)]
    return DockerApplier(_Client(_Volumes(found)), "local", instance="mine")  # type: ignore[arg-type]


@pytest.mark.parametrize("had_state", [True, False])
def test_volumes_of_another_making_are_refused_naming_them_and_the_way_out(had_state: bool) -> None:
    with pytest.raises(ForeignStackError) as refused:
        _applier({INSTANCE_LABEL: "mine"}, {INSTANCE_LABEL: "theirs"}).refuse_foreign(had_state)
    message = str(refused.value)
    assert "1 volume(s)" in message and "ihh-local-vol-1" in message and "ihh-local-vol-0" not in message
    assert "harness down --stack local" in message


def test_unlabelled_volumes_are_foreign_to_a_new_state_and_this_states_own_to_an_old_one() -> None:
    """Volumes made before the label existed: an old state made them; a state made just now cannot have."""
    _applier({}, {INSTANCE_LABEL: "mine"}).refuse_foreign(had_state=True)
    with pytest.raises(ForeignStackError, match="ihh-local-vol-0"):
        _applier({}).refuse_foreign(had_state=False)


def test_a_new_stack_and_its_own_volumes_pass() -> None:
    _applier().refuse_foreign(had_state=False)
    _applier({INSTANCE_LABEL: "mine"}).refuse_foreign(had_state=True)


def test_the_instance_id_is_made_once_with_the_state_and_goes_with_it(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "STATE_ROOT", tmp_path)
    first = state.instance_id("local")
    assert state.instance_id("local") == first and len(first) == 16
    assert (tmp_path / "local" / "instance").stat().st_mode & 0o777 == 0o600
    state.forget("local")
    assert state.instance_id("local") != first
