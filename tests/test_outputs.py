"""The typed outputs: every record parsed once, a bad field named by its path, lookups naming what exists."""

from __future__ import annotations

import pytest

from harness.core.outputs import OutputsError, StackOutputs, UnknownNameError
from tests.helpers import outputs_record


def test_lookups_by_name_role_and_site() -> None:
    outputs = StackOutputs.parse("t", outputs_record())
    assert outputs.host("db-2").roles == ("database",)
    assert [h.name for h in outputs.hosts(role="database")] == ["db-1", "db-2"]
    assert [h.name for h in outputs.hosts(site="sz")] == ["backup-sz"]
    assert outputs.backup_site("sz").repository == 2
    assert outputs.site_of_backup_host("backup-sh").name == "sh"
    assert outputs.uplink(1).name == outputs.uplink("line-b").name == "line-b"
    assert outputs.member("db-1").postgres_endpoint == ("127.0.0.1", 15430)
    assert outputs.secret("db_app_password") == "pw"


@pytest.mark.parametrize(("lookup", "message"), [
    (lambda o: o.host("db-9"), "stack 't' has no host 'db-9' (hosts: db-1, db-2, app-1, backup-sh, backup-sz)"),
    (lambda o: o.backup_site("bj"), "stack 't' has no backup site 'bj' (backup sites: sh, sz)"),
    (lambda o: o.uplink(7), "stack 't' has no uplink 7 (uplinks: line-a, line-b)"),
    (lambda o: o.member("app-1"), "stack 't' has no database member 'app-1' (database members: db-1, db-2)"),
    (lambda o: o.secret("turn_shared_secret"), "has no secret output 'turn_shared_secret' (secret outputs: "
                                                 "db_app_password)"),
])
def test_an_unknown_name_is_refused_with_the_names_that_exist(lookup, message: str) -> None:
    outputs = StackOutputs.parse("t", outputs_record())
    with pytest.raises(UnknownNameError) as error:
        lookup(outputs)
    assert message in str(error.value)


@pytest.mark.parametrize(("path", "value", "message"), [
    (("hosts", 1, "ssh"), None, "hosts[1].ssh: is missing"),
    (("hosts", 0, "ssh"), "nohost", "hosts[0].ssh: must be host:port"),
    (("backup_sites", 0, "repository"), "1", "backup_sites[0].repository: must be int, got str"),
    (("uplinks", 1, "url"), "ftp://x", "uplinks[1].url: must be an http(s) URL"),
    (("database", "members"), [], "database.members: must name at least one member"),
    (("availability", "target"), True, "availability.target: must be int or float, got bool"),
])
def test_a_malformed_field_is_named_by_its_path(path: tuple, value: object, message: str) -> None:
    record = outputs_record()
    holder = record
    for key in path[:-1]:
        holder = holder[key]
    if value is None:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    with pytest.raises(OutputsError) as error:
        StackOutputs.parse("t", record)
    assert str(error.value).startswith(f"outputs of stack 't'.{message}")
