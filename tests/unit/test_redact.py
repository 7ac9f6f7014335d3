"""Redaction: realistic secrets never leave kubelens, ordinary text stays readable."""

from __future__ import annotations

import random
import string
import time

import pytest

from kubelens.redact import MASK, redact, redact_text

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (text, the secret part that must disappear, a part that must survive)
SECRETS = [
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("found key AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", "in env"),
    (
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG",
        "AWS_SECRET_ACCESS_KEY=",
    ),
    (f"id_token={JWT}", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "id_token="),
    (f"got {JWT} from issuer", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ", "from issuer"),
    (f"Authorization: Bearer {JWT}", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "Authorization"),
    (
        "curl -H 'Authorization: Bearer 0a1b2c3d4e5f6a7b8c9d' https://api.example.com",
        "0a1b2c3d4e5f6a7b8c9d",
        "https://api.example.com",
    ),
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "Basic"),
    ('{"Authorization": "token ghp_0123456789abcdefABCDEF0123"}', "ghp_0123456789", "token"),
    (
        "java -jar app.jar --password=hunter2 --port=8080",
        "hunter2",
        "--port=8080",
    ),
    ("mysqld --password hunter2 --user=app", "hunter2", "--user=app"),
    ("kubelet --token abc.def0123456789 --v=2", "abc.def0123456789", "--v=2"),
    ("DB_PASSWORD=s3cr3t! APP_ENV=prod", "s3cr3t!", "APP_ENV=prod"),
    ("POSTGRES_PASSWORD='correct horse battery' PGPORT=5432", "horse", "PGPORT=5432"),
    ('{"DB_PASSWORD": "p@ss word", "USER": "app"}', "p@ss word", '"USER": "app"'),
    (
        "connecting to postgres://checkout:pa55w0rd-very-secret@db.shop.svc:5432/orders",
        "pa55w0rd-very-secret",
        "db.shop.svc:5432/orders",
    ),
    ("redis://:onlypass@redis:6379/0", "onlypass", "redis:6379/0"),
    ("mongodb+srv://user:p%40ss@cluster0.example.net/test", "p%40ss", "cluster0.example.net"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1y2\nq9ZrT4==\n"
        "-----END RSA PRIVATE KEY-----\nnext line",
        "MIIEowIBAAKCAQEAx1y2",
        "next line",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"
        "-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
        "",
    ),
    ("push with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij", "push with"),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
        "github_pat_11ABCDEFG",
        "",
    ),
    ("GITHUB_TOKEN=ghs_16C7e42F292c6912E7710c838347Ae178B4a", "ghs_16C7e42F", "GITHUB_TOKEN"),
    ("glpat-abcdefghij0123456789 used", "glpat-abcdefghij", "used"),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234567890", "sk-proj-abcdefghijklmnop", "OPENAI"),
    ("x-api-key: 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706", "x-api-key"),
    ("client_secret=abc123def456&grant_type=client_credentials", "abc123def456", "grant_type"),
    ("Set-Cookie: session=abcdef0123456789; Path=/; HttpOnly", "abcdef0123456789", "Set-Cookie"),
    (
        "AccountName=shop;AccountKey=abcdefghijklmnop0123456789+/ABCD==;EndpointSuffix=x",
        "abcdefghijklmnop0123456789",
        "EndpointSuffix=x",
    ),
    (
        "GET https://acct.blob.core.windows.net/c/b?sv=2020-08-04&sig=abcDEF123%2B&se=2024",
        "abcDEF123%2B",
        "sv=2020-08-04",
    ),
    ("Server=db;Database=app;User Id=sa;Password=Pa55word!;", "Pa55word!", "Database=app"),
    ("slack: xoxb-1234567890-abcdefghijkl", "xoxb-1234567890", "slack"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), SECRETS)
def test_realistic_secrets_are_masked(text: str, secret: str, kept: str) -> None:
    out = redact_text(text)
    assert secret not in out, out
    assert MASK in out
    assert kept in out


ORDINARY = [
    "token count 5",
    "password policy updated",
    "The secret to success is caching",
    "token validation failed for user alice",
    "Basic authentication failed",
    "tokenizer loaded 3 tokens",
    "passwd file changed",
    "secret volume mounted at /etc/secret-volume",
    "http://example.com:8080/path@foo",
    "ssh://git@github.com/org/repo.git",
    "user@example.com replied",
    "GET /api/v1/namespaces/shop/pods 200 12ms",
    "--password-file /run/secrets/db",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_stays_readable(text: str) -> None:
    out = redact_text(text)
    if text == "--password-file /run/secrets/db":
        # A path to a secret is not the secret, but a flag's value may be: masking it is
        # the safe side. What matters is that the flag name survives.
        assert out.startswith("--password-file")
        return
    assert out == text


def test_structures_mask_secret_named_keys_and_scan_values() -> None:
    data = {
        "env": {"DB_PASSWORD": "x", "HOME": "/root", "API_KEY": "abc"},
        "cmdline": "app --token=abc123456789",
        "count": 5,
        "items": [f"Bearer {JWT}", 3, None],
    }
    out = redact(data)
    assert out["env"] == {"DB_PASSWORD": MASK, "HOME": "/root", "API_KEY": MASK}
    assert out["cmdline"] == f"app --token={MASK}"
    assert out["count"] == 5
    assert out["items"][0] == f"Bearer {MASK}" and out["items"][1:] == [3, None]


@pytest.mark.parametrize(
    "text",
    [
        "a" * 20_000,
        "ab.cd-" * 4_000,
        "password" * 2_500,
        "password." * 2_500,
        "--password " * 2_000,
        "http://" * 3_000,
        "".join(random.Random(1).choice(string.ascii_letters + "+/") for _ in range(20_000)),
    ],
    ids=["run", "dotted", "names", "dotted-names", "flags", "schemes", "base64"],
)
def test_redaction_stays_linear_on_long_tokens(text: str) -> None:
    # A quadratic pattern once took 40 s on a 20 kB token: a log line could hang the agent.
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 0.5


def test_pem_body_lines_without_their_begin_line_are_masked() -> None:
    """A log tail can start inside a key: its bare base64 lines must not leak."""
    import base64

    body = base64.b64encode(bytes(range(256)) * 2).decode()
    key_lines = [body[i:i + 64] for i in range(0, 320, 64)]
    digest = "sha256:" + "0123456789abcdef" * 4
    text = "\n".join([*key_lines, "-----END PRIVATE KEY-----", digest, "ready"])
    out = redact_text(text)
    assert not any(line in out for line in key_lines if ("+" in line or "/" in line))
    assert digest in out and "ready" in out


def test_pem_body_pattern_is_linear_on_long_lines() -> None:
    import time

    started = time.perf_counter()
    redact_text(("Ab+" * 50_000) + "\n" + ("Ab+" * 20 + "\n") * 5_000)
    assert time.perf_counter() - started < 1.0
