"""End-to-end fixtures: the real application served by uvicorn on 127.0.0.1 (temp SQLite
database with the demo data), Debian's Chromium driven by Playwright, and axe-core.

Chromium must be installed (scripts/ensure-chromium); these tests fail, never skip, without it.
Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Playwright, sync_playwright

from secondlook.api.app import create_app
from secondlook.commands.demo import load_demo
from secondlook.store import db, migrate
from secondlook.store.pgtemp import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "e2e"
AXE_DIR = ROOT / ".cache" / "axe-core"


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The application, served for the whole session on a free loopback port."""
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e')}/e2e.db")
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        load_demo(session)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the application did not start", pytrace=False)
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/ensure-chromium (as root) to install Debian's "
            "chromium package; the browser tests never download a browser",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js from the npm package axe-core, fetched once with `npm pack` into .cache/."""
    target = AXE_DIR / "axe.min.js"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to fetch axe-core (npm pack axe-core)", pytrace=False)
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run(
        [npm, "pack", "axe-core", "--pack-destination", str(AXE_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if packed.returncode != 0:
        pytest.fail(f"npm pack axe-core failed: {packed.stderr.strip()}", pytrace=False)
    tarball = AXE_DIR / packed.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        target.write_bytes(member.read())
    tarball.unlink()
    return target
