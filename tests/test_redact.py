"""kctx_cli.redact: the one redaction step (SPEC §9, issue 12)."""
from __future__ import annotations

import io

import pytest

from kctx_cli import redact as r


@pytest.fixture(autouse=True)
def _clean():
    r.clear()
    yield
    r.clear()


@pytest.mark.parametrize("text, secret", [
    ("cannot reach http://alice:pw-4711@h:1/x", "pw-4711"),
    ("cannot reach http://alice:pw-4711@h:1/x", "alice"),
    ("https://tok_ABC123@host/subjects", "tok_ABC123"),
    ("https://:only-pass@host", "only-pass"),
    ("SASL_SSL://u:p4ss@broker:9093", "p4ss"),
    ("sasl.password=abc123 and more", "abc123"),
    ("KCTX_KAFKA_SASL_PASSWORD: abc123", "abc123"),
    ('{"sasl.password": "abc123"}', "abc123"),
    ("{'ssl.keystore.password': 'ks-pass'}", "ks-pass"),
    ('sasl.jaas.config=org.X required username="a" password="jaaspw";', "jaaspw"),
    ("sasl.oauthbearer.config: scope=a clientSecret=oauthpw", "oauthpw"),
    ("ssl.key.pem=-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----", "MIIEvQ"),
    ("basic.auth.user.info = u:topsecret", "topsecret"),
    ("bearer.auth.token=eyJhbGciOi", "eyJhbGciOi"),
    ("Authorization: Basic YWxpY2U6cHc=", "YWxpY2U6cHc="),
    ("Authorization: Bearer eyJhbGciOi", "eyJhbGciOi"),
])
def test_rules_hide_secrets(text, secret):
    out = r.redact(text)
    assert secret not in out and "***" in out


def test_registered_values_are_hidden_anywhere():
    r.register_mapping({"sasl.password": "Sup3r-Secret", "basic.auth.user.info": "bob:B0bsPass",
                        "url": "https://tok-9876@h", "sasl.username": "visible-user"})
    out = r.redact("server said: Sup3r-Secret is wrong; B0bsPass; tok-9876 bob:B0bsPass visible-user")
    assert "Sup3r-Secret" not in out and "B0bsPass" not in out and "tok-9876" not in out
    assert "visible-user" in out  # a user name is not a secret


def test_short_values_are_not_replaced_everywhere():
    r.register(["ab"])
    assert r.redact("a table about ab") == "a table about ab"


def test_html_page_becomes_status_and_title():
    page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>x</body></html>"
    assert r.http_body(page, 502) == 'HTTP 502 HTML page "502 Bad Gateway"'
    assert r.redact("registry: " + page) == 'registry: HTML page "502 Bad Gateway"'
    assert "\n" not in r.http_body("line1\nline2 password=x")


def test_config_keys():
    for key in ("sasl.password", "SSL_KEY_PEM", "ssl.certificate.pem", "sasl.jaas.config",
                "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret", "basic.auth.user.info",
                "bearer.auth.token", "ssl.keystore.password", "ssl.truststore.password", "ssl.key.password"):
        assert r.is_secret_key(key), key
    for key in ("ssl.key.location", "sasl.username", "security.protocol", "url", "timeout"):
        assert not r.is_secret_key(key), key


def test_obj_and_mapping():
    obj = {"error": "cannot reach https://u:pw-1234@h", "nested": [{"sasl.password": "zz"}], "n": 3}
    out = r.redact_obj(obj)
    assert out == {"error": "cannot reach https://***@h", "nested": [{"sasl.password": "***"}], "n": 3}
    assert r.redact_url("https://a:b@h1,https://c@h2") == "https://***@h1,https://***@h2"


def test_stream_redacts_across_writes_and_bytes():
    r.register(["Split-Secret"])
    inner = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    s = r.RedactingStream(inner)
    s.write("one Split-")
    s.write("Secret here\n")
    s.buffer.write(b"raw Split-Secret\n")
    s.write("tail no newline Split-Secret")
    s.flush()
    inner.flush()
    text = inner.buffer.getvalue().decode()
    assert "Split-Secret" not in text
    assert text == "one *** here\nraw ***\ntail no newline ***"


def test_data_written_as_data_keeps_its_text_but_not_kctx_secrets():
    # topic data (tail's JSON lines): kctx's configured secret values are masked; the text
    # rules for kctx's own messages (key=value, URL userinfo) do not rewrite the records
    r.register(["Conf-Secret-1"])
    inner = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    s = r.RedactingStream(inner)
    s.write("kctx says sasl.password=abc123\n")
    s.write_data('{"v": "password=user-data", "url": "http://a:b@h", "leak": "Conf-')
    s.write_data('Secret-1"}\n')
    s.write("then sasl.password=def456 https://u:p@h\n")
    s.buffer.write(b"raw password=raw-data Conf-Secret-1\n")
    s.flush()
    inner.flush()
    assert inner.buffer.getvalue().decode().splitlines() == [
        "kctx says sasl.password=***",
        '{"v": "password=user-data", "url": "http://a:b@h", "leak": "***"}',
        "then sasl.password=*** https://***@h",
        "raw password=raw-data ***",
    ]


def test_redact_values_only_touches_registered_values():
    assert r.redact_values("nothing registered sasl.password=x") == "nothing registered sasl.password=x"
    r.register(["val-9999", "u1:pw-8888"])
    assert r.redact_values("a val-9999 b pw-8888 c sasl.password=x") == "a *** b *** c sasl.password=x"
