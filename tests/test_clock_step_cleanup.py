"""`--cleanup` after a SIGKILL mid clock-step: the marked host is stepped back only if its clock is off by the step.

No host here owns its clock (containers share the kernel's), so the host is a small scripted clock
that answers the drill wrapper's clock commands as a real host's wrapper would.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from chaos.cleanup import undo_clock_steps
from harness.core.ssh import Result


@dataclass
class ScriptedHost:
    offset_s: float
    mark: str | None
    commands: list[str] = field(default_factory=list)

    def result(self, host: str, command: str, timeout_s: float = 600, check: bool = False) -> Result:
        self.commands.append(command)
        out, code = "", 0
        if command == "ihh-clock-mark":
            out, code = (self.mark + "\n", 0) if self.mark is not None else ("", 1)
        elif command == "date +%s":
            out = f"{int(time.time() + self.offset_s)}\n"
        elif (step := re.fullmatch(r"ihh-clock-step (-?\d+)", command)):
            self.offset_s += int(step.group(1))
            self.mark = step.group(1)  # the wrapper marks every step it makes
        elif command == "ihh-clock-unmark":
            self.mark = None
        else:
            raise AssertionError(f"unexpected command {command!r}")
        return Result(host, command, code, out, "")

    def run(self, host: str, command: str, timeout_s: float = 600, check: bool = True) -> str:
        return self.result(host, command, timeout_s, check).stdout


def test_a_clock_still_stepped_is_stepped_back_and_the_mark_removed() -> None:
    host = ScriptedHost(offset_s=300, mark="300")
    undone = undo_clock_steps(host, ["db-1"])  # type: ignore[arg-type]
    assert abs(host.offset_s) < 2 and host.mark is None
    assert undone and "stepped back by -300 s" in undone[0]


def test_a_clock_the_kill_left_unstepped_is_kept() -> None:
    host = ScriptedHost(offset_s=0, mark="300")  # killed between writing the mark and stepping
    undone = undo_clock_steps(host, ["db-1"])  # type: ignore[arg-type]
    assert host.offset_s == 0 and host.mark is None
    assert "left alone" in undone[0]


def test_an_unmarked_host_is_not_touched() -> None:
    host = ScriptedHost(offset_s=300, mark=None)
    assert undo_clock_steps(host, ["db-1"]) == []  # type: ignore[arg-type]
    assert host.offset_s == 300 and host.commands == ["ihh-clock-mark"]
