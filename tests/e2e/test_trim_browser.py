"""The cutting room in Debian's Chromium: frame stepping shows the exact frame, the trim and the
social cut are sent as the editor set them, and a queued job can be stopped from the page.

The source is a frame counter (every frame's brightness is its index), so reading a pixel of the
preview through a canvas tells which frame the browser shows.
"""
from __future__ import annotations

import re

import pytest

from orchestrator import products as prod
from orchestrator.db import db
from orchestrator.models import Recording
from orchestrator.pipeline import ingest_file, run_stage
from tests.e2e.conftest import ARTIFACTS, wait_for_js
from tests.media_helpers import make_frame_counter

pytestmark = pytest.mark.e2e


@pytest.fixture
def counter_recording(app, make_user, tmp_path):
    editor = make_user("editor")
    src = make_frame_counter(tmp_path / "counter.mp4", duration=8.0, size="640x360")
    rec = ingest_file(src, original_filename="bo-dem.mp4", user=editor)
    run_stage(rec.id, "transcode", enqueue=False)
    rec = db.session.get(Recording, rec.id)
    assert rec.stage("transcode").status == "done", rec.stage("transcode").error_detail
    rec.stage("transcribe").status = "skipped"
    db.session.commit()
    return rec, editor


SHOWN_FRAME_JS = """() => {
  const v = document.getElementById('preview');
  const c = document.createElement('canvas'); c.width = 16; c.height = 16;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 16, 16);
  const d = g.getImageData(8, 8, 1, 1).data;   // studio-range luma Y was shown as (Y-16)*255/219
  return Math.round(d[1] * 219 / 255 + 16);
}"""


def test_frame_stepping_trim_and_stop(page, live_server, counter_recording) -> None:  # noqa: F811
    rec, editor = counter_recording
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", editor.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/panel/recordings/{rec.id}/edit")
    wait_for_js(page, "document.getElementById('preview').readyState >= 2")

    step = page.locator("[data-step-f='1']")
    for _ in range(30):
        step.click()
    wait_for_js(page, "document.getElementById('preview').seeking === false")
    assert page.locator("#timecode").inner_text() == "00:00:01.200"
    assert page.locator("#frame-no").inner_text().endswith(" 30")
    page.wait_for_timeout(300)
    assert abs(page.evaluate(SHOWN_FRAME_JS) - 30) <= 2  # the picture really is frame 30
    page.click("#set-in")
    assert page.locator("#in-point").inner_text() == "00:00:01.200"

    page.keyboard.press("Shift+ArrowRight")  # +1 s -> frame 55
    page.wait_for_timeout(300)
    assert abs(page.evaluate(SHOWN_FRAME_JS) - 55) <= 2
    page.click("#cut-start")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # frame 105
    page.click("#cut-end")
    assert "00:00:02.200 → 00:00:04.200" in page.locator("#cuts").inner_text()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # frame 155
    page.keyboard.press("o")
    assert page.locator("#out-point").inner_text() == "00:00:06.200"
    assert page.locator("#result-duration").inner_text() == "00:00:03.000"

    page.click("#social-set-start")  # 6.2 s; the end defaults to the end of the video
    assert page.locator("#social-end").inner_text() == "00:00:08.000"
    page.check("input[name=mode][value=blur]")

    with page.expect_response(re.compile(r"/trim$")) as trim_response:
        page.click("#apply-trim")
    assert trim_response.value.status == 202
    page.wait_for_selector("#product-jobs tbody tr")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trim-editor.png"), full_page=True)

    db.session.expire_all()
    product = db.session.execute(db.select(prod.MediaProduct).filter_by(recording_id=rec.id)).scalar_one()
    assert product.params["keep"] == [[1.2, 2.2], [4.2, 6.2]]
    assert product.status == "queued"  # no worker in this test: it waits in the queue

    page.click("#product-jobs button.cancel")
    page.wait_for_selector("#product-jobs tr.product.cancelled")
    db.session.expire_all()
    assert db.session.get(prod.MediaProduct, product.id).status == "cancelled"
    assert "Đã hủy" in page.locator("#product-jobs").inner_text()
