"""A throwaway PostgreSQL server for the test session.

``start_server()`` initdb's a cluster into a fresh temporary directory, starts ``postgres`` on
127.0.0.1 with a free TCP port (and its unix socket inside that directory), waits until it accepts
connections, creates one database and returns a :class:`PgServer` handle; ``PgServer.stop()`` does a
fast shutdown and removes the directory. Everything is tuned for speed, not durability
(``fsync=off``, ``synchronous_commit=off``, ``full_page_writes=off``).

Who runs the server: PostgreSQL refuses to run as root, so when the tests run as root the cluster
directory is owned by, and ``initdb``/``postgres`` run as, the ``postgres`` OS user (through
``runuser -u postgres --``, or ``su postgres -c`` where runuser is missing). Otherwise they run as the
current user. The superuser role is always called ``postgres`` and loopback auth is ``trust``, so
URLs look like ``postgresql+psycopg://postgres@127.0.0.1:<port>/<db>``.

Where the binaries come from (first that has both ``initdb`` and ``postgres``):
``$REGIONMESH_PG_BIN``, then ``pg_config --bindir``, then the newest ``/usr/lib/postgresql/*/bin``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

PG_USER = "postgres"
START_TIMEOUT = 60.0  # seconds to wait for the server to accept connections
STOP_TIMEOUT = 30.0
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "max_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "autovacuum": "off",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}
PG_HBA = """\
# written by tests/pg.py: trust on the unix socket and on loopback only
local all all trust
host  all all 127.0.0.1/32 trust
host  all all ::1/128 trust
"""


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


class PgStartError(RuntimeError):
    """initdb or the server failed; the message carries the output / log tail."""


def in_ci() -> bool:
    """True when ``$CI`` is set to something other than empty/0/false (CI must never skip PG)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _has_server_binaries(bindir: str | os.PathLike[str]) -> bool:
    d = Path(bindir)
    return all(os.access(d / exe, os.X_OK) for exe in ("initdb", "postgres"))


def find_bin_dir() -> Path | None:
    """The first directory holding both ``initdb`` and ``postgres``, or None."""
    candidates: list[str] = []
    env = os.environ.get("REGIONMESH_PG_BIN")
    if env:
        candidates.append(env)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(out)

    def version_key(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.name)) or (0,)

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    for c in candidates:
        if _has_server_binaries(c):
            return Path(c)
    return None


def unavailable_reason() -> str:
    return (
        "PostgreSQL server binaries (initdb, postgres) not found: set REGIONMESH_PG_BIN, put pg_config on "
        "PATH, or install Debian's 'postgresql' package (bash .ci/run does that)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_prefix() -> tuple[list[str], pwd.struct_passwd | None]:
    """argv prefix that runs a command as the server's OS user, and that user (None: current user)."""
    if os.geteuid() != 0:
        return [], None
    try:
        pw = pwd.getpwnam(PG_USER)
    except KeyError:
        raise PgStartError(
            f"running as root but there is no {PG_USER!r} OS user to run PostgreSQL as "
            "(Debian's postgresql-common package creates it)"
        ) from None
    runuser = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
    )
    if runuser:
        return [runuser, "-u", PG_USER, "--"], pw
    return [], pw  # _as_server_user falls back to su


def _as_server_user(argv: Sequence[str]) -> list[str]:
    prefix, pw = _run_as_prefix()
    if pw is None or prefix:
        return [*prefix, *argv]
    return ["su", PG_USER, "-s", "/bin/sh", "-c", shlex.join(argv)]


def _subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", TZ="UTC")
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _conninfo(host: str, port: int, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(
        host=host, port=port, user=PG_USER, dbname=dbname, connect_timeout=5
    )


@dataclass
class PgServer:
    """A running throwaway server. ``url`` names the database created at start."""

    bindir: Path
    root: Path  # temp dir: data/, the unix socket, postgres.log
    port: int
    dbname: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _counter: int = field(default=0, repr=False)

    host = "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{dbname}"

    def admin_conninfo(self) -> str:
        return _conninfo(self.host, self.port, "postgres")

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (from template0) and return its SQLAlchemy URL."""
        if name is None:
            self._counter += 1
            name = f"rm_{os.getpid()}_{self._counter}"
        return create_database(self.url, name)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.logfile, lines)

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), then remove the directory. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            pid = _postmaster_pid(self.datadir)
            try:
                if pid is not None:
                    os.kill(pid, signal.SIGINT)  # fast shutdown
                else:
                    proc.send_signal(signal.SIGINT)
                proc.wait(timeout=STOP_TIMEOUT)
            except (ProcessLookupError, PermissionError):
                pass
            except subprocess.TimeoutExpired:
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        first = (datadir / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def _tmp_base() -> str:
    base = os.environ.get("REGIONMESH_PG_TMPDIR")
    if base:
        return base
    # As root the server runs as 'postgres', which must be able to reach the directory: /tmp is
    # world-traversable, whereas e.g. pytest's /tmp/pytest-of-root is not.
    return "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else tempfile.gettempdir()


def _initdb(bindir: Path, root: Path) -> None:
    argv = _as_server_user([
        str(bindir / "initdb"), "-D", str(root / "data"), "-U", PG_USER, "-A", "trust",
        "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ])  # fmt: skip
    res = subprocess.run(
        argv, cwd=root, env=_subprocess_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if res.returncode != 0:
        raise PgStartError(
            f"initdb failed ({res.returncode}): {shlex.join(argv)}\n{res.stdout}\n{res.stderr}"
        )
    (root / "data" / "pg_hba.conf").write_text(PG_HBA)


def _launch(bindir: Path, root: Path, port: int) -> subprocess.Popen[bytes]:
    settings = [f"-c{k}={v}" for k, v in SERVER_SETTINGS.items()]
    argv = _as_server_user([
        str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(port), "-k", str(root), *settings,
    ])  # fmt: skip
    with open(root / "postgres.log", "ab") as log:
        return subprocess.Popen(
            argv, cwd=root, env=_subprocess_env(), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _wait_ready(server: PgServer) -> None:
    """Poll a real connection until it succeeds, the server dies, or START_TIMEOUT passes."""
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    assert server.proc is not None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise PgStartError(
                f"postgres exited with {server.proc.returncode} before accepting connections; "
                f"log tail ({server.logfile}):\n{server.log_tail()}"
            )
        try:
            with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            last = exc
            time.sleep(0.05)  # readiness polling interval
    raise PgStartError(
        f"postgres did not accept connections on 127.0.0.1:{server.port} within {START_TIMEOUT:.0f}s "
        f"(last error: {last}); log tail ({server.logfile}):\n{server.log_tail()}"
    )


def start_server(dbname: str = "regionmesh", bindir: Path | None = None, attempts: int = 3) -> PgServer:
    """Start a throwaway server and create ``dbname``; the caller must ``stop()`` it."""
    bindir = bindir or find_bin_dir()
    if bindir is None:
        raise PgUnavailable(unavailable_reason())
    _, owner = _run_as_prefix()
    root = Path(tempfile.mkdtemp(prefix="regionmesh-pg-", dir=_tmp_base()))
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        _initdb(bindir, root)
        for attempt in range(1, attempts + 1):
            # A port picked free can be taken by someone else before postgres binds it: retry.
            server = PgServer(bindir=bindir, root=root, port=free_port(), dbname=dbname)
            server.proc = _launch(bindir, root, server.port)
            try:
                _wait_ready(server)
                break
            except PgStartError:
                tail = server.log_tail()
                if server.proc.poll() is None:
                    server.proc.kill()
                server.proc.wait()
                if attempt == attempts or not ("could not bind" in tail or "already in use" in tail):
                    raise
        create_database(server.url, dbname)
        return server
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _admin_conninfo_from(url: str) -> tuple[str, str]:
    """(conninfo of the 'postgres' maintenance db, the URL's own database) from a SQLAlchemy URL."""
    u = make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or PG_USER,
        dbname="postgres", connect_timeout=5, **({"password": u.password} if u.password else {}),
    )  # fmt: skip
    return conninfo, u.database or ""


def create_database(url: str, name: str) -> str:
    """Create database ``name`` (empty, from template0) on ``url``'s server; return its URL."""
    conninfo, _ = _admin_conninfo_from(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop ``url``'s database, disconnecting whoever is still connected to it."""
    conninfo, name = _admin_conninfo_from(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
