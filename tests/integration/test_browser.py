"""The reviewer app in a real browser: headless Debian Chromium driven by Playwright, the real embedded
model, a sample case uploaded, drafted, edited, approved and exported. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from drafter.model_assets import ensure_model_file
from drafter.review.store import AuditStore
from tests.conftest import REPO
from tests.integration.conftest import VENV_BIN, make_settings

pytestmark = pytest.mark.integration
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_server(built_home, tmp_path):
    assert CHROMIUM.exists(), "Debian chromium is missing: scripts/test.sh installs it (apt-get install chromium)"
    ensure_model_file(make_settings(built_home))
    home = tmp_path / "home"
    home.mkdir()
    for sub in ("index", "models"):
        (home / sub).symlink_to(built_home / sub)
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTER_")}
    env.update(DRAFTER_HOME=str(home), DRAFTER_LLM__BACKEND="llamacpp")
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "streamlit"), "run", str(REPO / "app.py"), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (tmp_path / "streamlit.log").read_text()[-2000:])
    yield url, home
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_upload_draft_edit_approve_export(app_server):
    from playwright.sync_api import expect, sync_playwright

    url, home = app_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    case_dir = REPO / "evals" / "cases" / "case-09-muscle-relaxants"
    files = [str(p) for p in sorted(case_dir.iterdir()) if p.name != "expected.json"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("Draft an IMR determination")).to_be_visible()
        page.get_by_label("New case name").fill("Browser sample")
        page.get_by_role("button", name="New case").click()
        expect(page.get_by_text("1. Case files")).to_be_visible(timeout=300_000)  # the model loads on first use
        page.locator('input[type="file"]').set_input_files(files)
        items = page.get_by_label("One disputed item per line (edit as needed)")
        expect(items).to_have_value(re.compile("Cyclobenzaprine"), timeout=180_000)
        expect(page.get_by_role("button", name="Draft all items")).to_be_enabled(timeout=180_000)
        page.screenshot(path=str(ARTIFACTS / "1-intake.png"), full_page=True)
        page.get_by_role("button", name="Draft all items").click()
        # three model calls on 2 cores: about 90 s on a quiet machine; generous for a loaded CI host
        expect(page.get_by_text("Draft ready")).to_be_visible(timeout=1_500_000)
        page.screenshot(path=str(ARTIFACTS / "2-drafted.png"), full_page=True)
        box = page.get_by_label("Decision rationale").first
        box.fill("Reviewer edit: cyclobenzaprine is for short courses only. Therefore, the request is not medically necessary.")
        box.press("Control+Enter")
        # a letter ready to sign: the signature block, the claim fields the redacted sample lacks, the UR's guideline
        page.get_by_text("Your signature block").click()
        page.get_by_label("Credentials").fill("MD")
        page.get_by_label("Specialty").fill("Physical Medicine and Rehabilitation")
        page.get_by_role("button", name="Save signature block").click()
        page.get_by_text("Saved.").wait_for()
        for label, value in (("Claimant", "Sample Claimant"), ("Claim number", "ADJ0000009"),
                             ("Guideline the Claims Administrator relied on (from the UR letter)", "MTUS Chronic Pain Medical Treatment Guidelines")):
            box = page.get_by_label(label, exact=True)
            if not box.input_value().strip():
                box.fill(value)
                box.press("Enter")
                time.sleep(2)
        page.get_by_role("button", name="Approve and sign").click()
        expect(page.get_by_text("This case is signed")).to_be_visible()
        with page.expect_download() as dl:
            page.get_by_role("button", name="DOCX", exact=True).click()
        dl.value.save_as(str(ARTIFACTS / "letter.docx"))
        page.screenshot(path=str(ARTIFACTS / "3-approved.png"), full_page=True)
        browser.close()
    db = AuditStore(home / "audit.db")
    case = db.cases(None)[0]  # single-user mode: the one local user
    assert db.latest_draft(case["id"])["backend"] == "llamacpp"
    final = db.approvals(case["id"])[0]["final_text"]
    assert "Reviewer edit: cyclobenzaprine" in final and "DRAFT FOR PHYSICIAN REVIEW" not in final and "Date signed:" in final
    assert (ARTIFACTS / "letter.docx").stat().st_size > 5000
