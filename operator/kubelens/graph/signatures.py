"""The log error catalogue: what a line means, and which kind of dependency it implicates.

The patterns the ``logs`` skill scans for are reused as they are; the catalogue adds
the errors an SRE reads as pointing somewhere (no space left, too many open files, TLS,
credentials, a schema the code expects, a missing file, a config syntax error, a missing
executable). Each signature names what it implicates:

- ``host``: the peer the line names (a Service, a pod IP, a cluster IP);
- ``dns``: cluster DNS, or the name that did not resolve;
- ``pids`` / ``memory`` / ``files`` / ``disk``: a capacity of the container or its node;
- ``nofile``: the process's own open-files limit;
- ``config``: the pod's configuration (ConfigMaps, Secrets, env, args);
- ``schema`` / ``credentials`` / ``tls``: the peer's data, a Secret, a certificate;
- ``self``: the program itself (a crash with no outside cause named).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubelens.skills.cluster.logs import ERROR_PATTERNS


@dataclass(frozen=True)
class Signature:
    code: str
    pattern: re.Pattern[str]
    implicates: str
    meaning: str


CATALOGUE: tuple[Signature, ...] = (
    Signature(
        "fork_failed",
        ERROR_PATTERNS["fork_failed"],
        "pids",
        "fork/clone refused (EAGAIN): the cgroup's pids.max or the node's kernel.pid_max "
        "is used up",
    ),
    Signature(
        "no_space",
        re.compile(r"(?i)no space left on device|\bENOSPC\b|disk quota exceeded"),
        "disk",
        "a write failed with ENOSPC: the filesystem is out of bytes or inodes",
    ),
    Signature(
        "file_table_full",
        re.compile(r"(?i)too many open files in system|\bENFILE\b|file table overflow"),
        "files",
        "the node's open-file table is full (fs.file-max): every process on it fails to open",
    ),
    Signature(
        "too_many_open_files",
        re.compile(r"(?i)too many open files|\bEMFILE\b|\[Errno 24\]"),
        "nofile",
        "open() and accept() fail with EMFILE: the process reached its open-files limit "
        "(RLIMIT_NOFILE, ulimit -n; the container runtime's default soft limit is often 1024)",
    ),
    Signature(
        "out_of_memory",
        ERROR_PATTERNS["out_of_memory"],
        "memory",
        "the process could not allocate memory (a heap cap, the container's limit or the node)",
    ),
    Signature(
        "gc_pressure",
        re.compile(
            r"(?i)GC overhead limit exceeded|long gc pause|allocation failure.{0,40}\d{4,}ms"
        ),
        "memory",
        "the runtime spends its time collecting garbage: its heap is too small for its load",
    ),
    Signature(
        "dns",
        ERROR_PATTERNS["dns"],
        "dns",
        "a name did not resolve: cluster DNS failed, or no Service has that name",
    ),
    Signature(
        "connection_refused",
        ERROR_PATTERNS["connection_refused"],
        "host",
        "nothing accepts connections at the peer's address: it is down, not ready or not listening",
    ),
    Signature(
        "connection_limit",
        re.compile(
            r"(?i)too many (?:clients|connections)|remaining connection slots are reserved"
            r"|max_user_connections|connection limit exceeded"
        ),
        "host",
        "the peer refuses new connections: its connection limit (max_connections) is used up, "
        "by every client replica's pool together",
    ),
    Signature(
        "timeout",
        ERROR_PATTERNS["timeout"],
        "host",
        "the peer did not answer in time: it is overloaded, unreachable or starved",
    ),
    Signature(
        "tls",
        re.compile(
            r"(?i)x509: |certificate (?:has expired|is not yet valid|signed by unknown)"
            r"|tls: (?:handshake|bad certificate|failed)|SSL routines|CERTIFICATE_VERIFY_FAILED"
        ),
        "tls",
        "a TLS handshake failed: a certificate expired, is untrusted or names another host",
    ),
    Signature(
        "credentials",
        re.compile(
            r"(?i)password authentication failed|access denied for user|authentication failed"
            r"|\b401 unauthorized\b|invalid credentials|\bNOAUTH\b|\bWRONGPASS\b|SASL "
            r"authentication"
        ),
        "credentials",
        "the peer refused the credentials: a Secret holds a wrong or rotated value",
    ),
    Signature(
        "schema",
        re.compile(
            r"(?i)\bcolumn \S{1,80} does not exist|\brelation \S{1,80} does not exist"
            r"|UndefinedColumn|UndefinedTable|unknown column|no such (?:table|column)"
            r"|table \S{1,80} doesn't exist"
        ),
        "schema",
        "the database lacks a table or column the code expects: a migration did not run",
    ),
    Signature(
        "missing_setting",
        ERROR_PATTERNS["missing_key"],
        "config",
        "a required setting is missing from the pod's configuration (env, ConfigMap, Secret)",
    ),
    Signature(
        "config_syntax",
        re.compile(
            r"(?i)\bsyntax error\b|unexpected token|yaml: line \d+|invalid (?:yaml|json|toml)"
            r"|error parsing (?:config|configuration)|unknown directive|\bparse error\b"
            r"|yaml: unmarshal errors|cannot unmarshal|invalid (?:config|configuration)\b"
            r"|failed to (?:parse|load|read) (?:the )?(?:config|configuration)\b"
        ),
        "config",
        "the program refused its configuration: a syntax or value error in a file or variable "
        "it reads",
    ),
    Signature(
        "read_only_filesystem",
        re.compile(r"(?i)read-only file system|\bEROFS\b|\(30: "),
        "config",
        "the program writes where the container's filesystem is read-only "
        "(securityContext.readOnlyRootFilesystem or a readOnly mount): it needs a writable "
        "volume (an emptyDir) at that path",
    ),
    Signature(
        "no_such_file",
        re.compile(r"(?i)no such file or directory|\bENOENT\b|FileNotFoundError"),
        "config",
        "a path the program opens does not exist: a missing mount, ConfigMap key or image file",
    ),
    Signature(
        "exec_not_found",
        re.compile(
            r"(?i)executable file not found|command not found|exec format error"
            r"|exec: \S{1,80}: not found"
        ),
        "self",
        "the container's command does not exist in its image (or is built for another CPU)",
    ),
    Signature(
        "permission_denied",
        ERROR_PATTERNS["permission_denied"],
        "self",
        "the process may not open a path: the volume's owner or the securityContext disagree",
    ),
    Signature("panic", ERROR_PATTERNS["panic"], "self", "the program panicked"),
    Signature("traceback", ERROR_PATTERNS["traceback"], "self", "an uncaught exception"),
    Signature("fatal", ERROR_PATTERNS["fatal"], "self", "the program reported a fatal error"),
    # Last: a line at error level that no signature above explains, quoted for what it says.
    Signature("error_line", ERROR_PATTERNS["error"], "self", "the program logged this error"),
)

#: Names a line says did not resolve (Go, glibc, Java, Node.js, libpq, curl).
_LOOKED_UP = re.compile(
    r"(?i)lookup ([\w.-]{1,253})(?: on |: )|host name \"([\w.-]{1,253})\""
    r"|ENOTFOUND ([\w.-]{1,253})|UnknownHostException: ([\w.-]{1,253})"
    r"|could not resolve host:? ([\w.-]{1,253})|resolve host(?:name)? '?([\w.-]{1,253})"
)


def classify(line: str) -> Signature | None:
    """The most specific signature a line shows (the catalogue's order), or None."""
    return next((s for s in CATALOGUE if s.pattern.search(line)), None)


def looked_up_name(line: str) -> str | None:
    """The hostname a name-resolution error says it failed to resolve."""
    match = _LOOKED_UP.search(line)
    if match is None:
        return None
    return next(group for group in match.groups() if group).rstrip(".").lower()
