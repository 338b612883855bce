"""The lab's central database URL: checked before anything starts, and never printed with its password.

``regionmesh lab up --database URL`` puts central (networks, pods, routings, jobs) on that database.
A URL that cannot work (not a URL, an unsupported backend, a server that does not answer, a database
that does not exist, a wrong password) stops the start-up with one line naming the database (password
masked) and what to do, instead of a traceback after half the lab has started.
"""

from __future__ import annotations

import re

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

PG_FORM = "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"


class DatabaseUnavailable(RuntimeError):
    """The central database cannot be used; the message is one line: which database, why, what to do."""


def mask_url(url: str) -> str:
    """``url`` safe to print or store: the password, if any, becomes ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def is_postgresql(url: str | None) -> bool:
    """True for a PostgreSQL URL (any driver): where job workers may run as separate processes."""
    if not url:
        return False
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except ArgumentError:
        return False


def _reason(err: DBAPIError, password: str | None) -> str:
    """The driver's message reduced to its cause, on one line, without the password."""
    first = str(err.orig).strip().splitlines()[0] if str(err.orig).strip() else type(err.orig).__name__
    cause = first.rsplit(" failed: ", 1)[-1]
    cause = re.sub(r"^(FATAL|ERROR):\s+", "", cause).strip()
    if password:
        cause = cause.replace(password, "***")
    return cause


def _hint(cause: str, host: str, port: str, user: str, dbname: str) -> str:
    low = cause.lower()
    if "does not exist" in low and "database" in low:
        return (f"create it first (createdb -h {host} -p {port} -U {user} {dbname}) "
                "or point --database at one that exists")
    if "authentication" in low or "password" in low or "role" in low:
        return "check the user and password in --database"
    return f"start PostgreSQL on {host}:{port} or fix the host and port in --database"


def check_database(url: str, *, timeout: int = 5) -> None:
    """Connect once to central's database; raise :class:`DatabaseUnavailable` saying why and what to do."""
    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"--database {shown!r} is not a database URL; use {PG_FORM} "
                                  "(or leave --database out for SQLite in the state directory)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return
    if backend != "postgresql":
        raise DatabaseUnavailable(f"central database {shown}: {backend} is not supported; the lab's central runs on "
                                  f"SQLite (the default) or PostgreSQL (--database {PG_FORM})")
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": timeout})
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        raise DatabaseUnavailable(f"central database {shown}: driver {parsed.drivername!r} is not available "
                                  f"({err}); use {PG_FORM}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as err:
        cause = _reason(err, parsed.password)
        host, port = parsed.host or "localhost", str(parsed.port or 5432)
        hint = _hint(cause, host, port, parsed.username or "postgres", parsed.database or "")
        raise DatabaseUnavailable(f"central database {shown} is unusable: {cause}; {hint}") from None
    finally:
        engine.dispose()
