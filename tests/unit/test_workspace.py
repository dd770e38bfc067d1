"""Case workspace checks behind the app's upload box: clear messages, nothing half-kept."""

from __future__ import annotations

from drafter.review.session import Workspace
from drafter.settings import Settings
from tests.pdf_factory import scanned_pdf


def test_uploads_are_checked_and_bad_ones_not_kept(isolated_env, tmp_path):
    ws = Workspace(Settings(), "c1")
    ok = ws.add("pr2.txt", b"PR-2 03/01/2015. The applicant reports low back pain and completed 12 sessions of therapy.")
    assert ok.kept and ok.chars > 20 and ws.files() == ["pr2.txt"]
    big = ws.add("huge.pdf", b"%PDF" + b"0" * (26 * 2**20))
    assert not big.kept and "over the 25 MB limit" in big.warning
    scan = ws.add("scan.pdf", scanned_pdf(tmp_path / "scan.pdf").read_bytes())
    assert not scan.kept and "no text layer" in scan.warning
    assert "unsupported type" in ws.add("photo.jpg", b"jpeg").warning
    assert "empty" in ws.add_text("   ").warning
    assert ws.files() == ["pr2.txt"], "rejected files are not left in the workspace"


def test_file_names_cannot_escape_the_workspace(isolated_env):
    ws = Workspace(Settings(), "c2")
    rep = ws.add("../../etc/evil.txt", b"A report with enough text to be read as a document.")
    assert rep.kept and ws.files() == ["evil.txt"] and (ws.dir / "evil.txt").exists()


def test_a_file_that_takes_the_case_over_its_text_limit_is_refused_at_upload(isolated_env):
    ws = Workspace(Settings(), "c3")
    assert ws.add("pr2.txt", b"PR-2 03/01/2015. Low back pain; completed 12 sessions of therapy. " * 10).kept
    huge = ws.add("notes.txt", b"Progress note text. " * 30_000)  # 600,000 characters: under 25 MB, over 400,000
    assert not huge.kept and "over the 400,000 limit" in huge.warning
    assert ws.files() == ["pr2.txt"]
