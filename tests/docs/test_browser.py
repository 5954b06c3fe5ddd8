"""The built site in a real browser: headless Chromium (the system's, driven by selenium) opens it
from a static server on 127.0.0.1 and checks that the home page, a reranker page and the API
reference render with no console errors, that search finds `passages` and `rrf`, and saves
screenshots (into .cache/docs-screenshots, or $RERANKIT_DOCS_SCREENSHOTS) for a person to look at.
``./dev.sh test`` installs Chromium and its driver from the system's packages when they are missing."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.docs.conftest import REPO, BuiltSite

SHOTS = Path(os.environ.get("RERANKIT_DOCS_SCREENSHOTS", REPO / ".cache" / "docs-screenshots"))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(built_site: BuiltSite) -> Iterator[str]:
    assert built_site.returncode == 0, built_site.log[-3000:]
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_site.path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    assert binary and driver_path, "Chromium and its driver are missing: apt-get install chromium chromium-driver " \
        "(./dev.sh test does it)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _open(browser: webdriver.Chrome, url: str) -> None:
    browser.get(url)
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _console_errors(browser: webdriver.Chrome) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize(("path", "shot", "expect"), [
    ("/", "home", "Pluggable reranking"),
    ("/rerankers/crossencoder/", "reranker-crossencoder", "model_name"),
    ("/rerankers/", "reranker-matrix", "passages (unit)"),
    ("/reference/api/", "api-reference", "get_reranker"),
    ("/reference/serve-api/", "serve-api", "/v2/rerank"),
])
def test_page_renders_without_console_errors(browser: webdriver.Chrome, site_url: str, path: str, shot: str,
                                             expect: str) -> None:
    _open(browser, site_url + path)
    content = browser.find_element(By.CSS_SELECTOR, "article.md-content__inner")
    assert expect in content.text, f"{path} does not show {expect!r}"
    assert browser.find_elements(By.CSS_SELECTOR, "nav.md-nav--primary a"), "the navigation did not render"
    # no raw Markdown left over: an unconverted table or heading means an extension or include failed
    assert "|---|" not in content.text and "\n## " not in content.text
    browser.save_screenshot(str(SHOTS / f"{shot}.png"))
    assert not _console_errors(browser)


@pytest.mark.parametrize("term", ["passages", "rrf"])
def test_search_finds(browser: webdriver.Chrome, site_url: str, term: str) -> None:
    # generous waits: the search index loads in a web worker, and a 10-20 s wait timed out once on a loaded
    # 2-core machine; a waiting step returns as soon as its condition holds
    _open(browser, site_url + "/")
    box = WebDriverWait(browser, 60).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input")))
    box.click()
    box.send_keys(term)
    results = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "li.md-search-result__item") or None)
    texts = [r.text.lower() for r in results]
    assert any(term in t for t in texts), f"search for {term!r} found {texts[:5]}"
    browser.save_screenshot(str(SHOTS / f"search-{term}.png"))
    assert not _console_errors(browser)
