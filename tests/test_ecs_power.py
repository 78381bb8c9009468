"""The ECS power switch against the local double of the ECS API: signed requests, the API's error codes named,
plain HTTP only to loopback, and hosts nothing can power off refused before anything is done."""

from __future__ import annotations

import pytest

from harness.core.ecs_power import ENDPOINT_ENV, KEY_ID_ENV, KEY_SECRET_ENV, EcsPower, EcsPowerError, _endpoint
from harness.core.outputs import Host
from harness.core.power import HostPower, NoPowerSwitchError
from tests.fake_ecs import FakeEcs

KEY_ID, SECRET = "LTAI-test-key", "test-secret"  # the double's own, nothing real


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    with FakeEcs({}, KEY_ID, SECRET) as api:
        monkeypatch.setenv(ENDPOINT_ENV, api.endpoint)
        monkeypatch.setenv(KEY_ID_ENV, KEY_ID)
        monkeypatch.setenv(KEY_SECRET_ENV, SECRET)
        yield api


def test_a_signed_request_is_accepted_and_an_unknown_instance_named(fake: FakeEcs) -> None:
    power = EcsPower("cn-beijing")
    assert power.statuses(["i-nowhere"]) == {}
    with pytest.raises(EcsPowerError, match=r"StopInstances of i-nowhere in cn-beijing failed: "
                                            r"InvalidInstanceId.NotFound"):
        power.force_stop(["i-nowhere"])
    stop = fake.calls[-1]
    assert stop["query"]["ForceStop"] == "True" and stop["query"]["StoppedMode"] == "KeepCharging"
    assert stop["query"]["InstanceId.1"] == "i-nowhere" and stop["query"]["RegionId"] == "cn-beijing"
    with pytest.raises(EcsPowerError, match="does not know i-nowhere"):
        power.wait_status(["i-nowhere"], "Running", timeout_s=5)


def test_a_wrong_secret_fails_the_signature_check(fake: FakeEcs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_SECRET_ENV, "not-the-secret")
    with pytest.raises(EcsPowerError, match=r"DescribeInstances .* failed: SignatureDoesNotMatch"):
        EcsPower("cn-beijing").statuses(["i-1"])
    monkeypatch.setenv(KEY_ID_ENV, "LTAI-unknown")
    with pytest.raises(EcsPowerError, match=r"InvalidAccessKeyId\.NotFound"):
        EcsPower("cn-beijing").statuses(["i-1"])
    assert [c["code"] for c in fake.calls] == ["SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound"]


def test_credentials_are_required_and_plain_http_only_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ID_ENV, raising=False)
    with pytest.raises(EcsPowerError, match=f"needs {KEY_ID_ENV} and {KEY_SECRET_ENV}"):
        EcsPower("cn-beijing")
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    assert _endpoint("cn-shanghai") == ("ecs.cn-shanghai.aliyuncs.com", "https")
    monkeypatch.setenv(ENDPOINT_ENV, "https://ecs-vpc.cn-beijing.aliyuncs.com")
    assert _endpoint("cn-beijing") == ("ecs-vpc.cn-beijing.aliyuncs.com", "https")
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:8443")
    assert _endpoint("cn-beijing") == ("127.0.0.1:8443", "http")
    monkeypatch.setenv(ENDPOINT_ENV, "http://ecs.example.cn")
    with pytest.raises(EcsPowerError, match="plain http is refused but on loopback"):
        _endpoint("cn-beijing")


def _host(name: str, **kwargs: str) -> Host:
    return Host(name=name, roles=("app",), site="bj-main", region="cn-beijing", ssh="10.0.0.1:22",
                ssh_host_key="ssh-ed25519 AAAA", **kwargs)  # type: ignore[arg-type]


def test_a_host_without_a_power_switch_is_refused_before_anything_is_done(fake: FakeEcs) -> None:
    power = HostPower(containers=None)
    with pytest.raises(NoPowerSwitchError, match=r"no power switch for bare-1: .*neither a container nor a cloud"):
        power.switches([_host("ecs-1", instance_id="i-1"), _host("bare-1")])
    with pytest.raises(NoPowerSwitchError, match="local containers lose power through the engine"):
        power.switches([_host("app-1", container="ihh-local-app-1")])
    assert power.switches([_host("ecs-1", instance_id="i-1"), _host("ecs-2", instance_id="i-2")]) == (
        [], {"cn-beijing": ["i-1", "i-2"]})
    assert HostPower.how(_host("ecs-1", instance_id="i-1")) == "ECS StopInstances ForceStop i-1"
    assert not fake.calls, "refusing a host must not call the API"
