"""Backup sites: the repository is encrypted, its key owner-only, its data private."""

from __future__ import annotations

import json

import pytest

from checks.suites.facts import assert_owner_only

ROLE = "backup"


@pytest.mark.requirements("TM-5.2", "EH-2.2.3")
@pytest.mark.impact("critical")
def test_repository_is_encrypted(host, target, outputs) -> None:
    repo = outputs.site_of_backup_host(target.name).repository
    info = json.loads(host.check_output(
        f"runuser -u pgbackrest -- pgbackrest --stanza={outputs.database.stanza} --repo={repo} info --output=json"))
    cipher = info[0].get("cipher")
    assert cipher == "aes-256-cbc", f"{target.name}: repository {repo} must be encrypted: cipher {cipher!r}"


@pytest.mark.requirements("TM-5.2")
@pytest.mark.impact("critical")
def test_repository_key_readable_only_by_owner(host, target) -> None:
    assert_owner_only(host, target, "/etc/pgbackrest/pgbackrest.conf", "pgbackrest",
                      "pgbackrest.conf holds the cipher passphrase and must be owner-only")


@pytest.mark.requirements("TM-5.2", "EH-1.1.2")
@pytest.mark.impact("high")
def test_repository_directory_is_private(host, target) -> None:
    repo = host.file("/var/lib/pgbackrest/repo")
    assert repo.is_directory and repo.mode == 0o700 and repo.user == "pgbackrest", (
        f"{target.name}: /var/lib/pgbackrest/repo must be 0700 pgbackrest: {oct(repo.mode)} {repo.user}"
    )
