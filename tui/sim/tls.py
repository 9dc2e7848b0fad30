"""TLS for the simulated cluster (optional): a throwaway CA and a server certificate for 127.0.0.1 and localhost.

Over HTTPS the sim looks like a real apiserver to its clients: kubectl sends the kubeconfig's bearer token only
over TLS (so RBAC sees the user it names), and the client verifies the server against the kubeconfig's
certificate-authority-data. Made with the openssl command, so no Python crypto package is needed.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCerts:
    ca_pem: bytes  # goes into the kubeconfig as certificate-authority-data
    cert_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="svcscope-sim-tls-") as d:
            cert, key = Path(d, "tls.crt"), Path(d, "tls.key")
            cert.write_bytes(self.cert_pem + self.ca_pem)
            key.write_bytes(self.key_pem)
            key.chmod(0o600)
            ctx.load_cert_chain(cert, key)
        return ctx


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_server_certs(hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> ServerCerts:
    """A new CA and a server certificate (1 day) for `hosts`. Raises RuntimeError when openssl is missing."""
    if shutil.which("openssl") is None:
        raise RuntimeError("TLS for the simulated cluster needs the openssl command; install it or run without TLS")
    sans = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts)
    with tempfile.TemporaryDirectory(prefix="svcscope-sim-ca-") as tmp:
        d = Path(tmp)
        curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        _openssl("req", "-x509", *curve, "-days", "2", "-subj", "/CN=svcscope-sim-ca", "-keyout", "ca.key",
                 "-out", "ca.crt", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        _openssl("req", "-new", *curve, "-subj", "/CN=svcscope-sim", "-keyout", "tls.key", "-out", "tls.csr", cwd=d)
        (d / "ext.cnf").write_text(f"subjectAltName={sans}\nbasicConstraints=critical,CA:FALSE\n"
                                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "1", "-extfile", "ext.cnf", "-out", "tls.crt", cwd=d)
        return ServerCerts((d / "ca.crt").read_bytes(), (d / "tls.crt").read_bytes(), (d / "tls.key").read_bytes())
