"""Secret redaction: the one place that decides what never leaves kubelens.

Everything a skill returns, every log line and every event text passes through
:func:`redact` before it can reach a model, a status field or a Kubernetes Event.
The patterns aim at what really leaks on nodes: cloud keys, JWTs, bearer and basic
headers, ``password=`` style pairs in command lines and environments, connection
strings with credentials, and PEM private keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[REDACTED]"

#: Keys whose values are secret whatever they look like (matched case-insensitively,
#: as a whole word inside the key: ``DB_PASSWORD``, ``apiKey``, ``x-auth-token``).
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credential|authorization|session[_-]?key|client[_-]?secret|signature|cookie)",
    re.IGNORECASE,
)

#: Names that mark the value after them as secret (``DB_PASSWORD=``, ``--token``).
#: Bounded on both sides and (in _SENSITIVE_KEYS) started only where a word starts:
#: an open ``[\w.-]*`` is retried at every position of a long token, which takes
#: quadratic time (seconds for one base64 blob in a log line).
_KEY_BODY = (
    r"[\w.-]{0,100}?(?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|apikey"
    r"|access[_-]?key|private[_-]?key|credentials?|client[_-]?secret|account[_-]?key"
    r"|shared[_-]?access[_-]?key)[\w.-]{0,100}"
)
_SENSITIVE_KEYS = r"(?<![\w.-])" + _KEY_BODY

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks: private keys and certificates with keys.
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
            re.DOTALL,
        ),
        MASK,
    ),
    # Authorization headers, whatever the scheme: keep the scheme, mask the credential.
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization\"?\s*[:=]\s*\"?"
            r"(?:(?:bearer|basic|token|digest|negotiate)\s+)?)(?!\[REDACTED\])[^\s\"',;]+"
        ),
        r"\1" + MASK,
    ),
    # Bearer / Basic / token schemes elsewhere. Basic and token need a digit in the
    # value, so prose ("token validation failed") stays readable.
    (re.compile(r"(?i)\b(bearer)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    (
        re.compile(r"(?i)\b(basic|token)\s+(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}"),
        r"\1 " + MASK,
    ),
    # Cookies: the whole header value is session state.
    (re.compile(r"(?im)\b((?:set-)?cookie\s*:\s*)[^\r\n]+"), r"\1" + MASK),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), MASK),
    # Credentials in URLs: scheme://user:password@host (the user may be empty).
    (
        re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://[^\s:/@]{0,256}):[^\s@/]+@"),
        r"\1:" + MASK + "@",
    ),
    # Signed URLs (Azure SAS, S3 presigned): the signature is the credential.
    (re.compile(r"(?i)([?&](?:sig|x-amz-signature|x-amz-credential)=)[^&\s\"']+"), r"\1" + MASK),
    # AWS access key ids and secret keys.
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b"), MASK),
    # Google API keys, GitHub, GitLab, npm, Slack and OpenAI/Anthropic style tokens.
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), MASK),
    (re.compile(r"\b(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}\b"), MASK),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), MASK),
    (re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), MASK),
    (re.compile(r"(?i)(hooks\.slack\.com/services/)[A-Za-z0-9/]+"), r"\1" + MASK),
    (re.compile(r"\bsk-(ant-)?[A-Za-z0-9_-]{16,}\b"), MASK),
    # key=value / key: value pairs whose key names a secret (command lines, env, logs).
    # A quoted value is masked whole, spaces included.
    (
        re.compile(
            r"(?i)(" + _SENSITIVE_KEYS + r")(\"?\s*[=:]\s*)(['\"])(?!\[REDACTED\])[^'\"\n]*\3"
        ),
        r"\1\2\3" + MASK + r"\3",
    ),
    (
        re.compile(
            r"(?i)(" + _SENSITIVE_KEYS + r")(\"?\s*[=:]\s*\"?)(?!\[REDACTED\])([^\s\"',;&]+)"
        ),
        r"\1\2" + MASK,
    ),
    # Command-line flags take their value after a space (``--password hunter2``); plain
    # words do not, so "password policy updated" is left alone.
    (
        re.compile(
            r"(?i)(?<![\w.-])(--?" + _KEY_BODY + r")(\s+)(?!-)(?!\[REDACTED\])([^\s\"',;&]+)"
        ),
        r"\1\2" + MASK,
    ),
    # MySQL-family clients take the password glued to -p (``mysql -u root -phunter2``);
    # elsewhere -p is a port or a path, so only after one of these commands.
    (
        re.compile(
            r"(?i:\b(mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mariadb"
            r"|mariadb-dump)\b)([^\n]{0,500}?\s)-p(?!\[REDACTED\])(\S+)"
        ),
        r"\1\2-p" + MASK,
    ),
    # Connection strings with Password=... (ADO.NET / JDBC style).
    (re.compile(r"(?i)(pwd|password)=([^;\s]+)"), r"\1=" + MASK),
    # A bare PEM body line (a key whose BEGIN line was cut off, e.g. by a log tail):
    # 60-76 base64 characters alone on a line, with both cases and a + or /. Hex digests
    # (image ids, hashes) have no + or / and stay readable.
    (
        re.compile(
            r"(?m)^[ \t]*(?=[A-Za-z0-9+/]*[+/])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])"
            r"[A-Za-z0-9+/]{60,76}={0,2}[ \t]*$"
        ),
        MASK,
    ),
)


def redact_text(text: str) -> str:
    """Mask every secret-looking part of a string."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """Redact a JSON-like value: strings are scanned, secret-named keys masked whole."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and _is_secret_key(key) and isinstance(item, str):
                out[key] = MASK
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
