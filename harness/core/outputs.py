"""The outputs contract as the drills and checks see it.

``harness up`` saves the program's resolved outputs; secrets stay in the stack's
private folder, the SSH key and CA certificate are written there as files, and
anything printed for a person shows ``[secret]`` in place of a secret.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.state import outputs_path, stack_dir, write_private

SECRET_KEYS = ("ssh_private_key", "secrets")
MASK = "[secret]"


class OutputsMissingError(RuntimeError):
    """The stack has no saved outputs: it was never brought up, or it was taken down."""


def save_outputs(stack: str, outputs: dict[str, Any]) -> Path:
    """Persist resolved outputs (0600) with key material alongside as files."""
    folder = stack_dir(stack)
    write_private(folder / "ssh_key", outputs["ssh_private_key"])
    (folder / "ca.crt").write_text(outputs["ca_cert_pem"])
    return write_private(outputs_path(stack), json.dumps(outputs, indent=2, sort_keys=True))


def outputs_from_pulumi_cli(stack: str) -> dict[str, Any]:
    """Read the outputs of a stack deployed with the Pulumi CLI, for users who have it."""
    if shutil.which("pulumi") is None:
        raise OutputsMissingError("the Pulumi CLI is not installed here")
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack],
        check=True, capture_output=True, text=True,
    )
    return json.loads(result.stdout)


@dataclass
class StackOutputs:
    """Typed access to one stack's outputs."""

    stack: str
    raw: dict[str, Any]

    @classmethod
    def load(cls, stack: str) -> StackOutputs:
        path = outputs_path(stack)
        if not path.exists():
            raise OutputsMissingError(f"stack {stack!r} has no outputs at {path}; run `harness up --stack {stack}`")
        return cls(stack=stack, raw=json.loads(path.read_text()))

    @property
    def ssh_key_path(self) -> Path:
        return stack_dir(self.stack) / "ssh_key"

    @property
    def ca_cert_path(self) -> Path:
        return stack_dir(self.stack) / "ca.crt"

    def secret(self, name: str) -> str:
        """A named secret (``db_app_password``, ``turn_shared_secret``) for a drill's own use."""
        try:
            return str(self.raw["secrets"][name])
        except KeyError as exc:
            raise KeyError(f"stack {self.stack!r} has no secret output {name!r}") from exc

    def public(self) -> dict[str, Any]:
        """The contract for printing: key material as paths, secrets masked."""
        view = {k: v for k, v in self.raw.items() if k not in (*SECRET_KEYS, "ca_cert_pem")}
        view["ssh_private_key"] = str(self.ssh_key_path)
        view["ca_cert"] = str(self.ca_cert_path)
        view["secrets"] = {name: MASK for name in self.raw.get("secrets", {})}
        return view

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]
