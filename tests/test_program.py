"""Both stacks under Pulumi's mocks: the components, their children and the outputs contract."""

from __future__ import annotations

import ipaddress
import json

import pytest

from harness.core.outputs import StackOutputs
from harness.provisioning.mockrun import run_program
from tests.helpers import program, stack_values

COMPONENTS = {
    "ihh:security:StackSecrets", "ihh:topology:Topology", "ihh:app:AppTier", "ihh:database:Database",
    "ihh:backup:BackupSites", "ihh:network:Uplinks", "ihh:av:AvNodes", "ihh:logs:LogHost",
}


@pytest.fixture(scope="module")
def local():
    return program("local")


@pytest.fixture(scope="module")
def prod():
    return program("prod")


@pytest.mark.parametrize("stack", ["local", "prod"])
def test_one_component_per_piece_and_every_resource_parented(stack: str) -> None:
    run = program(stack)
    types = {r.type for r in run.graph.resources if not r.custom}
    assert COMPONENTS <= types, COMPONENTS - types
    for resource in run.graph.resources:
        if resource.type.startswith("pulumi:providers:"):
            continue
        parent_type = resource.parent.split("::")[2].split("$")[-1]
        assert parent_type != "pulumi:pulumi:Stack" or not resource.custom, (
            f"{resource.urn}: a resource must belong to a component, not to the stack"
        )


def test_local_hosts_by_role(local) -> None:
    containers = [r for r in local.graph.resources if r.type == "docker:index/container:Container"]
    roles: dict[str, int] = {}
    for container in containers:
        for role in container.labels()["ihh.roles"].split(","):
            roles[role] = roles.get(role, 0) + 1
    assert roles == {"app": 2, "database": 2, "dcs": 3, "ingress": 2, "wan": 1, "av": 2, "backup": 2, "log": 1}, roles


def test_a_users_service_image_replaces_the_reference_service() -> None:
    run = program("local", serviceImage="hospital/api:1.2")
    images = {r.inputs["name"]: r.inputs["image"] for r in run.graph.resources
              if r.type == "docker:index/container:Container"}
    assert images["ihh-local-app-1"] == images["ihh-local-app-2"] == "hospital/api:1.2"
    assert images["ihh-local-db-1"] != "hospital/api:1.2"


def test_local_publishes_on_loopback_only(local) -> None:
    for container in local.graph.of_type("docker:index/container:Container"):
        for port in container.inputs.get("ports", []):
            assert ipaddress.ip_address(port["ip"]).is_loopback, f"{container.urn}: publishes on {port['ip']}"


def test_local_segments(local) -> None:
    networks = {n.inputs["name"]: n.inputs for n in local.graph.of_type("docker:index/network:Network")}
    for internal in ("ihh-local-app", "ihh-local-sql", "ihh-local-db", "ihh-local-backup"):
        assert networks[internal].get("internal") is True, internal
    assert networks["ihh-local-mgmt"]["options"] == {"com.docker.network.bridge.enable_icc": "false"}
    attached = {
        c.name: {n["name"].removeprefix("ihh-local-") for n in c.inputs["networksAdvanced"]}
        for c in local.graph.of_type("docker:index/container:Container")
    }
    assert not {"db", "sql"} & attached["ingress-telecom"] and not {"db", "sql"} & attached["wan"]
    assert attached["db-1"] == {"db", "sql", "backup", "mgmt"} and attached["dcs-1"] == {"db", "mgmt"}
    assert attached["app-1"] == {"app", "sql", "mgmt"}, "the app tier shares only PostgreSQL's segment"
    db1 = next(c for c in local.graph.of_type("docker:index/container:Container") if c.name == "db-1")
    assert db1.inputs["networksAdvanced"][0]["name"] == "ihh-local-db", "ports are published on the first network"
    assert db1.inputs["capabilities"] == {"adds": ["NET_ADMIN"]}
    files = {u["file"]: u["content"] for u in db1.inputs["uploads"]}
    assert json.loads(files["/etc/ihh/admit-only.json"]) == [{"address": "db-1.sql", "tcp": [5432]}]


def test_secrets_are_generated_not_literal(local) -> None:
    passwords = dict(local.outputs["secrets"])
    assert len(set(passwords.values())) == len(passwords)
    for value in passwords.values():
        assert len(value) == 32
    # the evidence key is the operator's (harness keys init), not the stack's: bundles outlive stacks
    assert not any("evidence" in k for k in (*local.outputs, *local.outputs["secrets"]))
    repo_text = "\n".join(
        p.read_text(errors="ignore") for p in __import__("pathlib").Path(".").rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".cfg", ".conf", ".toml"} and ".venv" not in p.parts
        and ".harness" not in p.parts
    )
    for value in passwords.values():
        assert value not in repo_text


def test_generated_values_are_stable_while_inputs_are(local) -> None:
    again = run_program("local", stack_values("local"), local.state)
    assert again.outputs["secrets"] == local.outputs["secrets"]
    assert again.outputs["ssh_private_key"] == local.outputs["ssh_private_key"]
    fresh = run_program("local", stack_values("local"), {})
    assert fresh.outputs["secrets"] != local.outputs["secrets"]


def test_outputs_contract(local) -> None:
    """What the program outputs is what the drills read: it parses into the typed outputs, nothing missing."""
    out = StackOutputs.parse("local", local.outputs)
    assert len(out.uplinks) == 2 and all(u.toxiproxy_proxy and u.url.startswith("https://127.0.0.1:")
                                         for u in out.uplinks)
    assert str(out.toxiproxy_api).startswith("http://127.0.0.1:")
    assert all(h.container and h.ssh_host_key.startswith("ssh-ed25519 ") for h in out.hosts())
    assert [s.region for s in out.backup_sites] == ["cn-shanghai", "cn-shenzhen"]
    assert [s.host for s in out.backup_sites] == [h.name for h in out.hosts(role="backup")]
    assert [m.name for m in out.database.members] == [h.name for h in out.hosts(role="database")]
    assert local.outputs["ssh_private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert len({h.ssh for h in out.hosts()}) == len(out.hosts()), "ports collide"


def test_patroni_and_pgbackrest_config(local) -> None:
    import yaml

    db1 = next(c for c in local.graph.of_type("docker:index/container:Container") if c.name == "db-1")
    files = {u["file"]: u["content"] for u in db1.inputs["uploads"]}
    patroni = yaml.safe_load(files["/etc/patroni/patroni.yml"])
    assert patroni["bootstrap"]["dcs"]["synchronous_mode"] is True
    assert patroni["etcd3"]["hosts"] == ["dcs-1:2379", "dcs-2:2379", "dcs-3:2379"]
    assert patroni["etcd3"]["use_proxies"] is True, "no member-list refresh timing out on each cut-off member"
    # containers share the kernel: the image's container-watchdog reads Patroni's named-pipe driver
    assert patroni["watchdog"] == {"mode": "required", "driver": "testing", "device": "/run/ihh/watchdog",
                                   "safety_margin": 1}
    assert all(line.startswith(("local", "hostssl", "hostnossl all all all reject"))
               for line in patroni["postgresql"]["pg_hba"])
    assert "repo1-host=backup-sh-backup" in files["/etc/pgbackrest/pgbackrest.conf"]
    assert "repo2-host=backup-sz-backup" in files["/etc/pgbackrest/pgbackrest.conf"]
    manifest = json.loads(files["/etc/ihh/files.json"])
    modes = {m["path"]: m["mode"] for m in manifest}
    assert modes["/etc/patroni/patroni.yml"] == "0600" and modes["/etc/ihh/tls/host.key"] == "0600"


def test_ingress_serves_https_only_with_a_ca_issued_certificate(local) -> None:
    from cryptography import x509

    for name in ("ingress-telecom", "ingress-unicom"):
        host = next(c for c in local.graph.of_type("docker:index/container:Container") if c.name == name)
        files = {u["file"]: u["content"] for u in host.inputs["uploads"]}
        config = files["/etc/haproxy/haproxy.cfg"]
        assert "bind :443 ssl crt /etc/haproxy/tls/ingress.pem" in config and "ssl-min-ver TLSv1.2" in config
        assert "http-request redirect scheme https code 301 unless { ssl_fc }" in config
        pem = files["/etc/haproxy/tls/ingress.pem"]
        assert "BEGIN CERTIFICATE" in pem and "PRIVATE KEY" in pem
        cert = x509.load_pem_x509_certificate(pem.encode())
        ca = x509.load_pem_x509_certificate(local.outputs["ca_cert_pem"].encode())
        assert cert.issuer == ca.subject
        assert name in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
        modes = {m["path"]: m["mode"] for m in json.loads(files["/etc/ihh/files.json"])}
        assert modes["/etc/haproxy/tls/ingress.pem"] == "0600"


def test_prod_uplinks_are_single_line_eips_of_two_isps(prod) -> None:
    eips = prod.graph.of_type("alicloud:ecs/eipAddress:EipAddress")
    assert sorted(e.inputs["isp"] for e in eips) == ["ChinaTelecom", "ChinaUnicom"]
    assert all(int(e.inputs["bandwidth"]) >= 10 for e in eips)
    assert len(prod.graph.of_type("alicloud:ecs/eipAssociation:EipAssociation")) == 2


def test_prod_hosts_spread_over_two_zones_and_backups_elsewhere(prod) -> None:
    switches = prod.graph.of_type("alicloud:vpc/switch:Switch")
    zones = {s.inputs["zoneId"] for s in switches}
    assert {"cn-beijing-h", "cn-beijing-i"} <= zones
    providers = {p.inputs.get("region") for p in prod.graph.of_type("pulumi:providers:alicloud")}
    assert providers == {"cn-beijing", "cn-shanghai", "cn-shenzhen"}
    instances = prod.graph.of_type("alicloud:ecs/instance:Instance")
    assert len(instances) == 14  # 13 serving hosts and the log host
    for instance in instances:
        assert instance.inputs["userData"].startswith("#cloud-config"), instance.urn
        assert instance.inputs["tags"]["ihh.region"].startswith("cn-"), instance.urn


def test_prod_needs_zones() -> None:
    values = stack_values("prod")
    values["prod"] = {**values["prod"], "zones": []}
    with pytest.raises(Exception, match=r"prod\.zones"):
        run_program("prod", values)


def test_every_local_host_ships_its_logs_to_the_log_host_by_a_name_on_its_own_segment(local) -> None:
    containers = {c.name: c for c in local.graph.of_type("docker:index/container:Container")}
    log = containers.pop("log-1")
    served = {n["name"].removeprefix("ihh-local-") for n in log.inputs["networksAdvanced"]} - {"mgmt"}
    assert served == {"uplink", "app", "sql", "db", "backup", "media"}
    log_files = {u["file"]: u["content"] for u in log.inputs["uploads"]}
    assert {e["tcp"][0] for e in json.loads(log_files["/etc/ihh/admit-only.json"])} == {6514}, "6514 alone"
    assert json.loads(log_files["/etc/ihh/logs/retention.json"])["keep_days"] >= 180
    assert "/etc/rsyslog.d/50-ihh-forward.conf" not in log_files
    for name, container in containers.items():
        files = {u["file"]: u["content"] for u in container.inputs["uploads"]}
        first = container.inputs["networksAdvanced"][0]["name"].removeprefix("ihh-local-")
        forward = files["/etc/rsyslog.d/50-ihh-forward.conf"]
        assert f'target="log-1.{first}"' in forward and f'StreamDriverPermittedPeers="log-1.{first}"' in forward, name
        assert 'StreamDriverAuthMode="x509/name"' in forward and "BEGIN CERTIFICATE" in files["/etc/ihh/logs/ca.crt"]
        assert "BEGIN CERTIFICATE" in files["/etc/ihh/logs/sender.crt"], f"{name}: no sender certificate"
    assert 'AuthMode="x509/certvalid"' in log_files["/etc/rsyslog.d/50-ihh-log-host.conf"], "senders must be verified"


def test_prod_log_host_admits_syslog_tls_from_every_role(prod) -> None:
    rules = {r.name.removeprefix("sg-cn-beijing-log-from-"): r.inputs["portRange"]
             for r in prod.graph.of_type("alicloud:ecs/securityGroupRule:SecurityGroupRule")
             if r.name.startswith("sg-cn-beijing-log-from-")}
    assert set(rules.values()) == {"6514/6514"}
    assert {name.split("-")[0] for name in rules} == {"app", "database", "dcs", "ingress", "av", "backup"}
    instances = {i.name: i.inputs["userData"] for i in prod.graph.of_type("alicloud:ecs/instance:Instance")}
    assert "50-ihh-forward.conf" not in instances.pop("log-1")
    assert all('target=\\"log-1\\"' in u for u in instances.values()), "every prod host forwards to log-1"


def test_prod_delivers_secrets_through_kms_not_user_data(prod) -> None:
    secrets = [v for v in prod.outputs["secrets"].values() if len(v) >= 16]
    secrets += [line for line in prod.outputs["ssh_private_key"].splitlines() if "PRIVATE KEY" not in line][:1]
    assert len(secrets) >= 4
    instances = list(prod.graph.of_type("alicloud:ecs/instance:Instance"))
    stored = {r.inputs["secretName"] for r in prod.graph.of_type("alicloud:kms/secret:Secret")}
    for instance in instances:
        user_data = instance.inputs["userData"]
        assert not [s for s in secrets if s in user_data], f"{instance.name}: a secret travels in user data"
        assert "PRIVATE KEY" not in user_data, instance.name
        assert instance.inputs["systemDiskEncrypted"] is True and instance.inputs["systemDiskKmsKeyId"]
    db1 = next(i for i in instances if i.name == "db-1")
    assert "ihh-prod-db-1-etc-ihh-tls-host-key" in stored and db1.inputs["roleName"] == "ihh-prod-db-1"
    fetch = "GetSecretValue --region cn-beijing --SecretName ihh-prod-db-1-etc-ihh-tls-host-key"
    assert fetch in db1.inputs["userData"]


def test_prod_database_hosts_fence_with_the_kernels_watchdog(prod) -> None:
    """Real hosts own their kernel: softdog at /dev/watchdog, loaded at boot, only Patroni's user may write it."""
    import yaml

    instances = {i.name: i for i in prod.graph.of_type("alicloud:ecs/instance:Instance")}
    user_data = instances["db-1"].inputs["userData"]
    assert "modprobe softdog" in user_data and "61-watchdog.rules" in user_data
    assert "softdog" not in instances["app-1"].inputs["userData"], "only database hosts need a watchdog"
    secrets = {r.inputs["secretName"]: r.inputs["secretData"] for r in prod.graph.of_type("alicloud:kms/secret:Secret")}
    patroni = yaml.safe_load(secrets["ihh-prod-db-1-etc-patroni-patroni-yml"])  # it holds passwords: through KMS
    assert patroni["watchdog"] == {"mode": "required", "driver": "default", "device": "/dev/watchdog",
                                   "safety_margin": 1}


def test_local_database_hosts_keep_their_wal_on_a_disk_of_its_own(local) -> None:
    """A loop-mounted filesystem per database host (sized by label), bound at WAL_DIR; Patroni puts pg_wal there."""
    import yaml

    from infra.database import REPLICATION_PARAMETERS, WAL_DIR, WAL_DISK_MB, WAL_SIZING

    disks = {v.name: v for v in local.graph.of_type("docker:index/volume:Volume") if v.name.startswith("disk-")}
    assert set(disks) == {"disk-db-1-wal", "disk-db-2-wal"}, "only the database hosts have a WAL disk"
    volume = disks["disk-db-1-wal"]
    assert volume.inputs["driverOpts"] == {"type": "none", "o": "bind",
                                           "device": "/var/lib/ihh/disks/ihh-local-db-1-wal"}
    assert {"label": "ihh.disk-size-mb", "value": str(WAL_DISK_MB)} in volume.inputs["labels"]
    db1 = next(c for c in local.graph.of_type("docker:index/container:Container") if c.name == "db-1")
    assert {"volumeName": "ihh-local-db-1-wal", "containerPath": WAL_DIR} in db1.inputs["volumes"]
    patroni = yaml.safe_load({u["file"]: u["content"] for u in db1.inputs["uploads"]}["/etc/patroni/patroni.yml"])
    assert {"waldir": f"{WAL_DIR}/pg_wal"} in patroni["bootstrap"]["initdb"]
    assert {"waldir": f"{WAL_DIR}/pg_wal"} in patroni["postgresql"]["basebackup"]
    # what `up` converges later is what a new cluster starts with
    assert REPLICATION_PARAMETERS.items() <= patroni["bootstrap"]["dcs"]["postgresql"]["parameters"].items()
    # a dead standby's slot may not fill the disk: WAL kept for slots and checkpoints fits with room to spare
    megabytes = {k: int(v.removesuffix("MB")) for k, v in WAL_SIZING.items() if str(v).endswith("MB")}
    assert megabytes["max_wal_size"] + megabytes["max_slot_wal_keep_size"] <= WAL_DISK_MB * 0.75


def test_prod_database_hosts_keep_their_wal_on_an_encrypted_data_disk(prod) -> None:
    import yaml

    instances = {i.name: i for i in prod.graph.of_type("alicloud:ecs/instance:Instance")}
    disks = instances["db-1"].inputs["dataDisks"]
    assert len(disks) == 1 and disks[0]["size"] == 20 and disks[0]["encrypted"] is True and disks[0]["kmsKeyId"]
    assert not instances["app-1"].inputs.get("dataDisks"), "only database hosts have a WAL disk"
    cloud = yaml.safe_load(instances["db-1"].inputs["userData"])
    assert cloud["fs_setup"] == [{"label": "wal", "filesystem": "ext4", "device": "/dev/vdb", "partition": "none",
                                  "extra_opts": ["-m", "0"]}]
    assert cloud["mounts"] == [["LABEL=wal", "/var/lib/postgresql/wal", "ext4", "defaults,nofail", "0", "2"]]
    assert any("/var/lib/postgresql/wal/.ihh-disk" in " ".join(step) for step in cloud["runcmd"])


def test_the_executor_finds_exactly_the_disks_the_program_declares(local) -> None:
    """What `up` and `harness setup --disks` mount: the disk volumes, each with its mount point and size."""
    from harness.provisioning.docker_apply import disk_of
    from infra.database import WAL_DISK_MB

    disks = sorted(d for r in local.graph.resources if (d := disk_of(r)) is not None)
    assert [(str(path), size) for path, size in disks] == [
        ("/var/lib/ihh/disks/ihh-local-db-1-wal", WAL_DISK_MB), ("/var/lib/ihh/disks/ihh-local-db-2-wal", WAL_DISK_MB)]


def test_turn_nodes_relay_to_each_others_relays_and_no_other_private_peer(local) -> None:
    """Locally the relays are private and fixed: each node allows exactly the nodes' relay addresses (a call's
    legs reach each other), every other private range stays denied; where none is fixed, none is allowed."""
    import ipaddress

    from infra.av_nodes import turnserver_config
    from infra.config import LocalConfig

    def turnserver(graph, name: str) -> list[str]:
        node = next(c for c in graph.of_type("docker:index/container:Container") if c.name == name)
        return {u["file"]: u["content"] for u in node.inputs["uploads"]}["/etc/ihh/turnserver.conf"].splitlines()

    subnet = ipaddress.IPv4Network(LocalConfig.media_subnet)
    media = next(n for n in local.graph.of_type("docker:index/network:Network") if n.name == "net-media")
    assert media.inputs["ipamConfigs"] == [{"subnet": str(subnet)}]
    relays = {}
    for name in ("turn-1", "turn-2"):
        node = next(c for c in local.graph.of_type("docker:index/container:Container") if c.name == name)
        on_media = next(n for n in node.inputs["networksAdvanced"] if n["name"].endswith("-media"))
        relays[name] = on_media["ipv4Address"]
        assert ipaddress.IPv4Address(relays[name]) in subnet
    assert len(set(relays.values())) == 2
    for name, relay in relays.items():
        lines = turnserver(local.graph, name)
        assert f"relay-ip={relay}" in lines
        assert sorted(x.split("=", 1)[1] for x in lines if x.startswith("allowed-peer-ip=")) == sorted(relays.values())
        assert "denied-peer-ip=10.0.0.0-10.255.255.255" in lines
    unfixed = turnserver_config("turn-1", "secret")  # a platform that fixes no relay address (prod, existing)
    assert "allowed-peer-ip" not in unfixed and "relay-ip" not in unfixed


def _uploads(local, name: str) -> dict[str, str]:
    host = next(c for c in local.graph.of_type("docker:index/container:Container") if c.name == name)
    return {u["file"]: u["content"] for u in host.inputs["uploads"]}


def test_uploads_to_the_supervision_platform_leave_over_each_line_to_the_simulator(local) -> None:
    """GD-3.2.1: app -> each ingress's relay (TCP, TLS end to end) -> that line's proxy -> the wan host's simulator."""
    service = json.loads(_uploads(local, "app-1")["/etc/ihh/app/service.json"])
    assert service["supervision"] == {"endpoints": ["https://ingress-telecom:8477", "https://ingress-unicom:8477"],
                                      "server_name": "supervision-platform", "ca_file": "/etc/ihh/tls/ca.crt",
                                      "token_file": "/etc/ihh/secrets/supervision-token"}
    for i, line in enumerate(("telecom", "unicom")):
        relay = _uploads(local, f"ingress-{line}")["/etc/haproxy/haproxy.cfg"]
        assert "listen supervision-egress\n    mode tcp" in relay and f"server platform wan:{8490 + i}" in relay
    wan = _uploads(local, "wan")
    proxies = {p["name"]: p for p in json.loads(wan["/etc/ihh/wan/proxies.json"])}
    assert proxies["supervision-telecom"]["upstream"] == "127.0.0.1:8477"
    manifest = {m["path"]: m for m in json.loads(wan["/etc/ihh/files.json"])}
    assert manifest["/etc/ihh/wan/supervision-control-token"]["mode"] == "0600"
    assert manifest["/etc/ihh/wan/supervision.key"]["owner"] == "nobody"
    out = StackOutputs.parse("local", local.outputs)
    assert out.supervision and out.supervision.control_api.startswith("http://127.0.0.1:")
    assert out.supervision.egress_proxies == ("supervision-telecom", "supervision-unicom")
    assert out.secret("supervision_control_token") != out.secret("media_line_token")


def test_prod_uploads_to_the_configured_platform_or_to_none(prod) -> None:
    assert prod.outputs.get("supervision") is None, "no endpoint configured: nothing uploads, nothing is claimed"
