"""The PostgreSQL test server: EXPCTL_TEST_POSTGRES_URL, or the env file that
scripts/postgres-dev.sh writes; a fresh schema per test (used by conftest's `--postgres` and
by tests/registry/test_postgres.py)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEV_ENV_FILE = Path(os.environ.get("EXPCTL_POSTGRES_DEV_DIR", "/tmp/expctl-postgres-dev")) / "env"


# --- finding the server (also used by conftest.py) ---------------------------------------------


def postgres_url() -> str | None:
    """The test server's SQLAlchemy URL: EXPCTL_TEST_POSTGRES_URL, else the dev env file."""
    url = os.environ.get("EXPCTL_TEST_POSTGRES_URL")
    if not url:
        try:
            text = DEV_ENV_FILE.read_text()
        except OSError:
            return None
        found = re.search(r"^export EXPCTL_TEST_POSTGRES_URL=(\S+)$", text, re.MULTILINE)
        url = found.group(1) if found else None
    return url


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as libpq reads it."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    url = postgres_url()
    if not url:
        return (f"no PostgreSQL server configured (EXPCTL_TEST_POSTGRES_URL or {DEV_ENV_FILE}): "
                "start one with `scripts/postgres-dev.sh start`")
    try:
        psycopg.connect(libpq_url(url), connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {url} does not answer: {str(exc).splitlines()[0]}"
    return None


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A new, empty schema on the test server for one test: its registry URL (the schema is
    first on the search path), dropped with everything in it afterwards."""
    import psycopg

    url = postgres_url()
    assert url, unavailable()
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
