"""Offline stand-ins for the tls and random providers: real keys, certificates and passwords.

Where the Pulumi CLI is absent, these run inside the mock runtime so that the
program receives real values, exactly as the providers would give them. Values are
kept in the stack's state file and reused while a resource's inputs are unchanged,
so a second ``up`` changes nothing and a password does not rotate by accident.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import secrets
import string
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Outputs = dict[str, Any]


def inputs_digest(inputs: dict[str, Any]) -> str:
    """A stable hash of a resource's inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _private_key(inputs: dict[str, Any]) -> Outputs:
    algorithm = inputs.get("algorithm", "RSA")
    if algorithm == "ED25519":
        key: Any = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ECDSA":
        curves = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1(), "P521": ec.SECP521R1()}
        key = ec.generate_private_key(curves[inputs.get("ecdsaCurve", "P224")])
    elif algorithm == "RSA":
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048)))
    else:
        raise ValueError(f"tls PrivateKey: unsupported algorithm {algorithm!r}")
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    traditional = pkcs8 if algorithm == "ED25519" else key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = key.public_key()
    openssh_public = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return {
        "privateKeyPem": traditional,
        "privateKeyPemPkcs8": pkcs8,
        "privateKeyOpenssh": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode(),
        "publicKeyPem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": openssh_public + "\n",
        "publicKeyFingerprintSha256": "SHA256:" + hashlib.sha256(openssh_public.encode()).hexdigest(),
    }


def _load_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _name(subject: dict[str, Any] | None) -> x509.Name:
    subject = subject or {}
    attributes = []
    if subject.get("commonName"):
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, subject["commonName"]))
    if subject.get("organization"):
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject["organization"]))
    return x509.Name(attributes)


def _sans(inputs: dict[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
    return names


def _sign(builder: x509.CertificateBuilder, inputs: dict[str, Any], key: Any, is_ca: bool) -> str:
    now = datetime.datetime.now(datetime.UTC)
    uses = set(inputs.get("allowedUses") or [])
    builder = (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=int(inputs.get("validityPeriodHours", 24))))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature="digital_signature" in uses, content_commitment=False,
                key_encipherment="key_encipherment" in uses, data_encipherment=False, key_agreement=False,
                key_cert_sign="cert_signing" in uses, crl_sign="crl_signing" in uses,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )
    usages = [oid for use, oid in (("server_auth", ExtendedKeyUsageOID.SERVER_AUTH),
                                   ("client_auth", ExtendedKeyUsageOID.CLIENT_AUTH)) if use in uses]
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans = _sans(inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode()


def _self_signed(inputs: dict[str, Any]) -> Outputs:
    key = _load_key(inputs["privateKeyPem"])
    subject = _name(inputs.get("subject"))
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return {"certPem": _sign(builder, inputs, key, bool(inputs.get("isCaCertificate")))}


def _cert_request(inputs: dict[str, Any]) -> Outputs:
    key = _load_key(inputs["privateKeyPem"])
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject")))
    sans = _sans(inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    request = builder.sign(key, hashes.SHA256())
    return {"certRequestPem": request.public_bytes(serialization.Encoding.PEM).decode()}


def _locally_signed(inputs: dict[str, Any]) -> Outputs:
    request = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
    ca_key = _load_key(inputs["caPrivateKeyPem"])
    ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
    builder = (
        x509.CertificateBuilder().subject_name(request.subject).issuer_name(ca_cert.subject)
        .public_key(request.public_key())
    )
    sans = [ext.value for ext in request.extensions if isinstance(ext.value, x509.SubjectAlternativeName)]
    merged = dict(inputs)
    if sans:
        merged["dnsNames"] = sans[0].get_values_for_type(x509.DNSName)
        merged["ipAddresses"] = [str(a) for a in sans[0].get_values_for_type(x509.IPAddress)]
    return {"certPem": _sign(builder, merged, ca_key, bool(inputs.get("isCaCertificate")))}


def _password(inputs: dict[str, Any]) -> Outputs:
    alphabet = ""
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("numeric", True):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"
    length = int(inputs.get("length", 16))
    return {"result": "".join(secrets.choice(alphabet) for _ in range(length))}


GENERATORS: dict[str, Callable[[dict[str, Any]], Outputs]] = {
    "tls:index/privateKey:PrivateKey": _private_key,
    "tls:index/selfSignedCert:SelfSignedCert": _self_signed,
    "tls:index/certRequest:CertRequest": _cert_request,
    "tls:index/locallySignedCert:LocallySignedCert": _locally_signed,
    "random:index/randomPassword:RandomPassword": _password,
}
