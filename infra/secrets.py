"""Keys, certificates and passwords the stack generates: nothing secret is a literal in the repo.

With the Pulumi CLI these are real tls/random provider resources kept encrypted in
Pulumi state; offline, the harness's mock provider generates them with the same
inputs and keeps them in its own state file (mode 0600).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
import pulumi_tls as tls

CERT_VALIDITY_HOURS = 24 * 365 * 2
PASSWORDS = ("db-superuser", "db-replication", "db-app", "turn-shared-secret", "backup-cipher", "patroni-rest",
             "service-session-key", "media-line-token", "supervision-upload-token", "supervision-control-token")


@dataclass(frozen=True)
class HostCertificate:
    """A host's TLS key and certificate, signed by the stack's CA."""

    key_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]


class StackSecrets(pulumi.ComponentResource):
    """The stack's SSH key, its private CA and the passwords its services share."""

    ssh_private_key: pulumi.Output[str]
    ssh_public_key: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    passwords: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:security:StackSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ssh_key = tls.PrivateKey(f"{name}-ssh", algorithm="ED25519", opts=child)
        self.ssh_private_key = pulumi.Output.secret(ssh_key.private_key_openssh)
        self.ssh_public_key = ssh_key.public_key_openssh
        self._ca_key = tls.PrivateKey(f"{name}-ca", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca_cert = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=self._ca_key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=CERT_VALIDITY_HOURS,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"IHH {pulumi.get_stack()} CA", organization="Internet hospital harness"
            ),
            opts=child,
        )
        self.ca_cert_pem = ca_cert.cert_pem
        self._ca_cert = ca_cert
        self.passwords = {
            purpose: pulumi.Output.secret(
                random.RandomPassword(f"{name}-{purpose}", length=32, special=False, opts=child).result
            )
            for purpose in PASSWORDS
        }
        self.register_outputs(
            {"ssh_public_key": self.ssh_public_key, "ca_cert_pem": self.ca_cert_pem}
        )

    def client_certificate(self, host: str, purpose: str) -> HostCertificate:
        """A client-only certificate for ``host`` (CN = its name), for one ``purpose`` such as log shipping."""
        return self._issue(f"tls-{purpose}-{host}", host, [host], None, ["client_auth"])

    def host_certificate(self, host: str, extra_ips: tuple[str, ...] = (), extra_names: tuple[str, ...] = ()
                         ) -> HostCertificate:
        """Issue a server-and-client certificate for ``host`` (its name as CN and SAN, with ``extra_names``)."""
        return self._issue(f"tls-{host}", host, [host, *extra_names, "localhost"], ["127.0.0.1", *extra_ips],
                           ["server_auth", "client_auth"])

    def _issue(self, resource: str, host: str, dns_names: list[str], ip_addresses: list[str] | None,
               uses: list[str]) -> HostCertificate:
        """A key and a certificate the stack's CA signs: CN ``host``, these names, for these uses."""
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(resource, algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        request = tls.CertRequest(
            resource,
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=host, organization="Internet hospital harness"),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            opts=child,
        )
        cert = tls.LocallySignedCert(
            resource,
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self._ca_key.private_key_pem,
            ca_cert_pem=self._ca_cert.cert_pem,
            validity_period_hours=CERT_VALIDITY_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", *uses],
            opts=child,
        )
        return HostCertificate(key_pem=pulumi.Output.secret(key.private_key_pem), cert_pem=cert.cert_pem)
