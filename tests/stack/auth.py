"""The authenticated endpoints of the test stack (issue 12, SPEC §9): certificates made here,
a second Kafka listener with SASL_SSL (PLAIN over TLS) and nginx (Debian's nginx-light)
terminating TLS in front of the plain Schema Registry and ksqlDB with HTTP basic auth — the
registry's endpoint also requires a client certificate (mTLS). The plain addresses stay as
they were for every other test.

Everything lives in ``STACK_DIR/auth``: ``ca.pem``, ``server.pem``/``server.key`` (for
127.0.0.1 and localhost), ``client.pem``/``client.key`` (signed by the same CA), the nginx
configuration and ``auth.env``, the variables ``tests/stack/up`` prints after the three plain
ones:

    KCTX_AUTH_BOOTSTRAP_SERVERS   127.0.0.1:<KCTX_STACK_KAFKA_SASL_PORT, 19094>  (SASL_SSL, PLAIN)
    KCTX_AUTH_KAFKA_USER / KCTX_AUTH_KAFKA_PASSWORD
    KCTX_AUTH_SCHEMA_REGISTRY_URL https://127.0.0.1:<KCTX_STACK_REGISTRY_TLS_PORT, 18444>  (basic + mTLS)
    KCTX_AUTH_KSQLDB_URL          https://127.0.0.1:<KCTX_STACK_KSQLDB_TLS_PORT, 18445>   (basic)
    KCTX_AUTH_HTTP_USER / KCTX_AUTH_HTTP_PASSWORD
    KCTX_AUTH_CA, KCTX_AUTH_CLIENT_CERT, KCTX_AUTH_CLIENT_KEY

Passwords are random per stack (kept in auth.env while it runs).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import secrets
import shutil
import socket
import ssl
from pathlib import Path

AUTH_PORT_VARS = {
    "kafka_sasl": ("KCTX_STACK_KAFKA_SASL_PORT", 19094),
    "registry_tls": ("KCTX_STACK_REGISTRY_TLS_PORT", 18444),
    "ksqldb_tls": ("KCTX_STACK_KSQLDB_TLS_PORT", 18445),
}
KAFKA_USER = "kctx"
HTTP_USER = "kctx"


def enabled() -> bool:
    """The authenticated endpoints are started unless KCTX_STACK_AUTH=0."""
    return os.environ.get("KCTX_STACK_AUTH", "1") != "0"


def auth_dir(stack_dir: Path) -> Path:
    return stack_dir / "auth"


def make_certs(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM
    files (keys unencrypted PKCS#8), with the ``cryptography`` package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    later = now + dt.timedelta(days=30)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(k, path):
        path.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        path.chmod(0o600)

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("kctx test stack CA")).issuer_name(name("kctx test stack CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    write_key(ca_key, d / "ca.key")

    def leaf(cn, usage, san=None):
        k = key()
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject).public_key(k.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(later)
             .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return k, b.sign(ca_key, hashes.SHA256())

    sk, sc = leaf("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH,
                  [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    (d / "server.pem").write_bytes(sc.public_bytes(serialization.Encoding.PEM))
    write_key(sk, d / "server.key")
    # Kafka's PEM key store: the key and its chain in one file
    (d / "server-keystore.pem").write_bytes((d / "server.key").read_bytes() + (d / "server.pem").read_bytes())
    ck, cc = leaf("kctx-client", ExtendedKeyUsageOID.CLIENT_AUTH)
    (d / "client.pem").write_bytes(cc.public_bytes(serialization.Encoding.PEM))
    write_key(ck, d / "client.key")


def ports() -> dict[str, int]:
    from stackctl import _port

    return {name: _port(var, default) for name, (var, default) in AUTH_PORT_VARS.items()}


def prepare(stack_dir: Path) -> dict[str, str]:
    """Fresh certificates and passwords in ``STACK_DIR/auth``; returns the variables."""
    d = auth_dir(stack_dir)
    shutil.rmtree(d, ignore_errors=True)
    make_certs(d)
    p = ports()
    values = {
        "KCTX_AUTH_BOOTSTRAP_SERVERS": f"127.0.0.1:{p['kafka_sasl']}",
        "KCTX_AUTH_KAFKA_USER": KAFKA_USER,
        "KCTX_AUTH_KAFKA_PASSWORD": "kafka-" + secrets.token_hex(12),
        "KCTX_AUTH_SCHEMA_REGISTRY_URL": f"https://127.0.0.1:{p['registry_tls']}",
        "KCTX_AUTH_KSQLDB_URL": f"https://127.0.0.1:{p['ksqldb_tls']}",
        "KCTX_AUTH_HTTP_USER": HTTP_USER,
        "KCTX_AUTH_HTTP_PASSWORD": "http-" + secrets.token_hex(12),
        "KCTX_AUTH_CA": str(d / "ca.pem"),
        "KCTX_AUTH_CLIENT_CERT": str(d / "client.pem"),
        "KCTX_AUTH_CLIENT_KEY": str(d / "client.key"),
    }
    (d / "auth.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    (d / "auth.env").chmod(0o600)
    return values


def read_values(stack_dir: Path) -> dict[str, str]:
    f = auth_dir(stack_dir) / "auth.env"
    if not f.is_file():
        return {}
    return dict(line.split("=", 1) for line in f.read_text().splitlines() if "=" in line)


def kafka_properties(kafka_port: int, values: dict[str, str], d: Path) -> dict[str, str]:
    """The broker settings of the SASL_SSL listener (merged into server.properties)."""
    sasl_port = values["KCTX_AUTH_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1]
    pw = values["KCTX_AUTH_KAFKA_PASSWORD"]
    return {
        "sasl_listener": f"SASL_SSL://127.0.0.1:{sasl_port}",
        "props": f"""\
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="admin" password="{secrets.token_hex(8)}" user_{KAFKA_USER}="{pw}";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location={d / 'server-keystore.pem'}
""",
    }


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def nginx_conf(stack_dir: Path, values: dict[str, str], registry_port: int, ksqldb_port: int) -> Path:
    d = auth_dir(stack_dir)
    (d / "htpasswd").write_text(f"{HTTP_USER}:{_ssha(values['KCTX_AUTH_HTTP_PASSWORD'])}\n")
    (d / "nginx-tmp").mkdir(exist_ok=True)
    p = ports()
    common = f"""
        ssl_certificate {d / 'server.pem'};
        ssl_certificate_key {d / 'server.key'};
        auth_basic "kctx test stack";
        auth_basic_user_file {d / 'htpasswd'};
        proxy_http_version 1.1;
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_read_timeout 300s;
        proxy_set_header Authorization "";
        client_max_body_size 50m;
"""
    conf = f"""
worker_processes 1;
error_log {d / 'nginx-error.log'} warn;
pid {d / 'nginx.pid'};
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d / 'nginx-tmp'};
    proxy_temp_path {d / 'nginx-tmp'};
    fastcgi_temp_path {d / 'nginx-tmp'};
    uwsgi_temp_path {d / 'nginx-tmp'};
    scgi_temp_path {d / 'nginx-tmp'};
    server {{
        listen 127.0.0.1:{p['registry_tls']} ssl;
        ssl_client_certificate {d / 'ca.pem'};
        ssl_verify_client on;
        {common}
        location / {{ proxy_pass http://127.0.0.1:{registry_port}; }}
    }}
    server {{
        listen 127.0.0.1:{p['ksqldb_tls']} ssl;
        {common}
        location / {{ proxy_pass http://127.0.0.1:{ksqldb_port}; }}
    }}
}}
"""
    path = d / "nginx.conf"
    path.write_text(conf)
    return path


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def tls_ready(port: int, cert: Path | None = None, key: Path | None = None, timeout: float = 1.0) -> bool:
    """True when 127.0.0.1:port completes a TLS handshake."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with ctx.wrap_socket(s):
                return True
    except OSError:
        return False
