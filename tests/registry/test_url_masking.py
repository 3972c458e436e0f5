"""A registry URL's password never appears in a message, however malformed the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from expctl.registry.db import mask_secrets, safe_url

# (URL, the password's pieces that must not appear)
URLS = [
    ("postgresql+psycopg://alice:S3cr3tPW@127.0.0.1:1/db", ["S3cr3tPW"]),
    ("postgresql+psycopg://alice:S3cr@3tPW@127.0.0.1:1/db", ["S3cr", "3tPW"]),
    ("postgresql+psycopg://alice:S3cr3tPW@127.0.0.1:notaport/db", ["S3cr3tPW"]),
    ("postgresql+psycopg://alice:pa:ss@w0rd@127.0.0.1:/db", ["pa:ss", "w0rd"]),
    ("postgresql+psycopg://alice:hunter22@@127.0.0.1:1/db", ["hunter22"]),
    ("postgresql+psycopg://alice:Pa%40ss99@127.0.0.1:1/db", ["Pa%40ss99", "Pa@ss99"]),
]


@pytest.mark.parametrize(("url", "secrets"), URLS)
def test_the_password_never_shows(workspace: Path, cli, url: str, secrets: list[str]) -> None:
    pytest.importorskip("psycopg")
    code, out, err = cli("ls", env={"EXPCTL_REGISTRY_URL": url})
    assert code == 5, err
    assert "internal error" not in err and "Traceback" not in err, err
    assert "alice:***@" in err, err
    for secret in secrets:
        assert secret not in err + out, err


def test_mask_secrets_removes_every_piece() -> None:
    url = "postgresql://u:abcd@efgh@host/db"
    text = f"bad port in {url}: 'efgh@host' and abcd"
    masked = mask_secrets(text, url)
    assert "abcd" not in masked and "efgh" not in masked and safe_url(url) in masked
