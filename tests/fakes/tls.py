"""A throw-away certificate authority for the local fakes.

Google serves FCM over HTTP/2 with TLS, and httpx only negotiates HTTP/2 through ALPN on a TLS
connection, so the FCM fake needs a certificate a client can verify. `ensure_test_ca()` creates
(once per machine and user, reused while valid) a CA and a server certificate for `localhost`,
`127.0.0.1` and `::1` signed by it.

Clients trust it explicitly, never by weakening verification:
- our transports take the CA file as an argument (`FcmTransport(ca_bundle=…)`);
- a whole process (a baseline benchmark, a standalone worker pointed at the fakes) can trust it
  through the environment: `SSL_CERT_FILE=<ca.pem>` (httpx, aiohttp, ssl.create_default_context)
  and `REQUESTS_CA_BUNDLE=<ca.pem>` (requests, google-auth's token refresh).
`python -m tests.fakes.tls` prints the paths and those two lines.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Regenerate well before expiry so a long test run never meets an expired certificate.
_VALIDITY = dt.timedelta(days=30)
_RENEW_BEFORE = dt.timedelta(days=2)


@dataclass(frozen=True)
class TestCA:
    directory: Path

    @property
    def ca_file(self) -> str:
        return str(self.directory / "ca.pem")

    @property
    def cert_file(self) -> str:
        return str(self.directory / "server.pem")

    @property
    def key_file(self) -> str:
        return str(self.directory / "server-key.pem")

    def server_context(self, alpn: tuple[str, ...] = ("h2", "http/1.1")) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def env(self) -> dict[str, str]:
        """Environment for a child process that must trust the fakes."""
        return {"SSL_CERT_FILE": self.ca_file, "REQUESTS_CA_BUNDLE": self.ca_file}


def default_directory() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"pushpilot-test-ca-{uid}"


def ensure_test_ca(directory: str | Path | None = None) -> TestCA:
    target = Path(directory) if directory else default_directory()
    ca = TestCA(target)
    if _still_valid(ca):
        return ca
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write into a fresh directory and rename it into place: concurrent processes (xdist workers,
    # a fake started in a subprocess) see either the old complete set or the new one.
    staging = Path(tempfile.mkdtemp(prefix=".ca-", dir=target.parent))
    _generate(staging)
    old = None
    if target.exists():
        old = target.with_name(f"{target.name}.old.{os.getpid()}")
        try:
            target.rename(old)
        except OSError:
            old = None
    try:
        staging.rename(target)
    except OSError:
        # Another process won the race; its set is as good as ours.
        _remove_tree(staging)
    if old is not None:
        _remove_tree(old)
    return ca


def _still_valid(ca: TestCA) -> bool:
    try:
        pem = Path(ca.cert_file).read_bytes()
        Path(ca.key_file).stat()
        Path(ca.ca_file).stat()
    except OSError:
        return False
    cert = x509.load_pem_x509_certificate(pem)
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > _RENEW_BEFORE


def _generate(directory: Path) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PushPilot test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (directory / "server.pem").write_bytes(cert.public_bytes(pem))
    key_path = directory / "server-key.pem"
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink(missing_ok=True)
    path.rmdir()


if __name__ == "__main__":
    ca = ensure_test_ca()
    print(f"CA certificate:     {ca.ca_file}")
    print(f"server certificate: {ca.cert_file}")
    print(f"server key:         {ca.key_file}")
    for name, value in ca.env().items():
        print(f"export {name}={value}")
