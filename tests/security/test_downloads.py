"""Downloads with any name: a flow named outside Latin-1 exports through the test client, the dev
server and gunicorn, with an ASCII fallback and the real name in RFC 5987 ``filename*``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from werkzeug.serving import make_server

from extensions import db
from services import flow_revisions
from tests.plugins.factories import PASSWORD
from web.downloads import content_disposition

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["日本語のフロー", "Ωmega flow", "Café «déjà vu»", 'quote " back\\slash\r\nSet-Cookie: x=1']


def parse_disposition(value: str) -> tuple[str, str | None]:
    """(ASCII filename, decoded filename* or None) of a Content-Disposition value."""
    value.encode("latin-1")  # what a WSGI server must be able to send
    assert value.isascii() and "\r" not in value and "\n" not in value
    plain = re.search(r'filename=("(?:[^"\\]|\\.)*"|[^;\s]+)', value)
    star = re.search(r"filename\*=UTF-8''([^;\s]+)", value)
    assert plain, value
    return plain.group(1).strip('"'), unquote(star.group(1), "utf-8", "strict") if star else None


@pytest.mark.parametrize("name", ["日本語のフロー-draft.json", "Ωmega flow.json", "plain.json", "a\x00b\x7f.json"])
def test_content_disposition_is_ascii_with_the_utf8_name(name):
    plain, star = parse_disposition(content_disposition(name))
    assert plain.isascii() and plain
    real = star or plain
    assert "\x00" not in real and "\x7f" not in real
    if name.isascii() and name.isprintable():
        assert plain == name and star is None
    else:
        assert real.endswith(".json")


@pytest.fixture
def flows_world(app, make):
    """An org with a viewer and one flow per awkward name."""
    org = make.org("acme", "Acme")
    make.user("viewer@example.com", "viewer", org)
    flows = [flow_revisions.create_flow(org, None, name) for name in NAMES]
    db.session.commit()
    return [(f.id, f.name) for f in flows]


def _check_export(get, flows):
    for flow_id, name in flows:
        for fmt, ending in (("phonetree", "draft.phonetree.json"), ("studio", "draft.studio.json")):
            resp = get(f"/flows/{flow_id}/export?format={fmt}")
            assert resp.status_code == 200, (name, resp.status_code)
            plain, star = parse_disposition(resp.headers["Content-Disposition"])
            assert plain.isascii() and plain.endswith(ending) and len(plain) > len(ending)
            shown = star or plain
            assert shown.endswith(ending)
            letters = [c for c in name.lower() if c.isalnum()]
            assert [c for c in shown[: -len(ending)] if c.isalnum()] == letters, (name, shown)


def test_export_names_outside_latin1_through_the_test_client(app, make, flows_world):
    resp = make.login("viewer@example.com")
    assert resp.status_code == 302
    _check_export(make.client.get, flows_world)


def _signed_in(base: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    resp = http.post(
        f"{base}/login",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302, resp.text[:300]
    return http


def _getter(http: requests.Session, base: str):
    def get(path: str):
        resp = http.get(base + path, timeout=10)
        return resp

    return get


def test_export_names_outside_latin1_on_the_dev_server(app, flows_world):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        _check_export(_getter(_signed_in(base), base), flows_world)
    finally:
        server.shutdown()
        thread.join(5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_export_names_outside_latin1_on_gunicorn(app, flows_world, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PHONETREE_ENCRYPTION_KEYS": ",".join(app.config["ENCRYPTION_KEYS"]),
        "PHONETREE_INSTANCE_PATH": str(tmp_path),
        "PUBLIC_BASE_URL": "",
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"]
    proc = subprocess.Popen(gunicorn, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/login", timeout=10)
                break
            except requests.RequestException:
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
                assert time.monotonic() < deadline, "gunicorn did not start within 30 s"
                time.sleep(0.2)
        _check_export(_getter(_signed_in(base), base), flows_world)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
