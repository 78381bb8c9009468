"""Helpers for tests that run the program under mocks."""

from __future__ import annotations

import copy
from typing import Any

from harness.provisioning.mockrun import ProgramRun, read_stack_config, run_program
from infra.policy.rules import Subject, subjects_from


def stack_values(stack: str, **overrides: Any) -> dict[str, Any]:
    """A stack's committed config with some keys replaced."""
    values = copy.deepcopy(read_stack_config(stack))
    values.update(overrides)
    return values


def program(stack: str, **overrides: Any) -> ProgramRun:
    return run_program(stack, stack_values(stack, **overrides))


def subjects(stack: str, **overrides: Any) -> list[Subject]:
    return subjects_from(program(stack, **overrides).graph.resources)


def relabel(subjects_: list[Subject], host: str, **labels: str) -> list[Subject]:
    """The same subjects with labels of the resource named ``host`` changed (keys use '_' for '.' and '-')."""
    changed = []
    for subject in subjects_:
        if subject.labels.get("ihh.host") == host and "ihh.roles" in subject.labels:
            merged = dict(subject.labels)
            for key, value in labels.items():
                merged["ihh." + key.replace("__", ".").replace("_", "-")] = value
            subject = Subject(subject.urn, subject.type, subject.name, merged)
        changed.append(subject)
    return changed
