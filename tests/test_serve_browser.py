"""The console in a real browser: Debian's chromium, driven by selenium, on `autotrack serve` (run as a command)
following the RTSP test server, with random SAM2 weights at imgsz 64; and the re-identification gallery on a console
with scripted models (`serve_helpers.scripted_console`).

Screenshots of the pages go to $AUTOTRACK_TEST_ARTIFACTS (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from live_stream import free_port
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from serve_helpers import blank_video, running_console, scripted_console, wait_for

pytestmark = pytest.mark.timeout(240)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def browser():
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def console(server, tmp_path):
    """`autotrack serve RTSP_URL` on 127.0.0.1 in a subprocess; yields its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "from autotrack.cli import main; main()", "serve", server.url,
               "-p", "manual-sam2", "--sam-weights", "random", "--imgsz", "64", "--device", "cpu",
               "--port", str(port), "--output-dir", str(tmp_path / "out")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"autotrack serve exited: {process.stdout.read()}")
        try:
            return httpx.get(base + "/api/sources", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, 60, "the console start")
        yield base
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("AUTOTRACK_TEST_ARTIFACTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def text(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def object_rows(driver) -> dict[str, str]:
    """The object list as {"#1": "tracked", ...} (lost objects included, with status "lost")."""
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#objects tbody tr')].map(r => [r.cells[0].textContent,"
        " r.cells[2].textContent])")
    return dict(rows)


def frame_index(driver) -> int:
    words = text(driver, "#stats").split()
    return int(words[1]) if len(words) > 1 and words[0] == "frame" else -1


def canvas_pixels(driver) -> str:
    return driver.execute_script("return document.getElementById('frame').toDataURL('image/png')")


def test_the_page_shows_live_frames_prompts_objects_events_reconnects_and_downloads(console, server, browser,
                                                                                    artifacts):
    # the landing page: one card with a live thumbnail
    browser.get(console + "/")
    wait_for(lambda: browser.execute_script("const t = document.querySelector('.card .thumb');"
                                            "return t && t.complete && t.naturalWidth > 0"), 60, "a thumbnail")
    assert server.url in text(browser, ".card .name") and "running" in text(browser, ".card .line")
    browser.save_screenshot(str(artifacts / "landing.png"))

    # the source page: frames that change
    browser.find_element(By.CSS_SELECTOR, ".card").click()
    wait_for(lambda: frame_index(browser) >= 0, 30, "the first frame")
    first, pixels = frame_index(browser), canvas_pixels(browser)
    wait_for(lambda: frame_index(browser) > first + 3, 30, "more frames")
    assert canvas_pixels(browser) != pixels
    assert text(browser, "#state") == "running"

    # a click adds object 1: it shows in the list and its birth in the log
    canvas = browser.find_element(By.ID, "frame")
    ActionChains(browser).move_to_element_with_offset(canvas, 0, 0).click().perform()
    wait_for(lambda: object_rows(browser).get("#1") == "tracked", 30, "object 1 in the list")
    wait_for(lambda: "born #1 – user prompt" in text(browser, "#events"), 10, "the birth in the event log")
    # Esc ends the selection; a drag adds object 2 from a box
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    size = canvas.size
    ActionChains(browser).move_to_element_with_offset(canvas, -size["width"] // 3, -size["height"] // 3) \
        .click_and_hold().move_by_offset(size["width"] // 5, size["height"] // 5).release().perform()
    wait_for(lambda: object_rows(browser).get("#2") == "tracked", 30, "object 2 in the list")
    ActionChains(browser).move_to_element(browser.find_element(By.CSS_SELECTOR, "#objects tbody tr")).perform()
    browser.save_screenshot(str(artifacts / "objects.png"))

    # the camera goes away for a few seconds: the page says so, then shows the reconnect; the IDs stay
    server.stop()
    wait_for(lambda: "no frame for" in text(browser, "#stats"), 30, "the stall on the page")
    browser.save_screenshot(str(artifacts / "stream-lost.png"))
    time.sleep(2.0)
    server.start()
    wait_for(lambda: "reconnects 1" in text(browser, "#stats"), 60, "the reconnect on the page")
    wait_for(lambda: "reconnected" in text(browser, "#events"), 10, "the reconnect in the event log")
    back = frame_index(browser)
    wait_for(lambda: frame_index(browser) > back + 3, 30, "frames after the reconnect")
    # (random weights give both objects nearly the same mask, so one may yield to the other: occluded)
    statuses = object_rows(browser)
    assert set(statuses) == {"#1", "#2"} and set(statuses.values()) <= {"tracked", "occluded"}, statuses
    assert "born #3" not in text(browser, "#events")
    reconnected_at = int(next(line for line in text(browser, "#events").splitlines() if "reconnected" in line)
                         .split()[1])
    browser.save_screenshot(str(artifacts / "reconnected.png"))

    # removing object 1 takes it off the list
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#objects tbody tr") if r.text.startswith("#1"))
    row.find_element(By.CSS_SELECTOR, "button.remove").click()
    wait_for(lambda: "#1" not in object_rows(browser), 30, "object 1 leaving the list")
    assert list(object_rows(browser)) == ["#2"]
    wait_for(lambda: "removed #1" in text(browser, "#events"), 10, "the removal in the event log")
    browser.save_screenshot(str(artifacts / "removed.png"))

    # the MOT download has both objects' rows, from before and after the reconnect (MOT frames are 1-based)
    link = wait_for(lambda: next((a for a in browser.find_elements(By.CSS_SELECTOR, "#files a")
                                  if a.text == "run-1/tracks.txt"), None), 15, "the MOT link")
    rows = [line.split(",") for line in httpx.get(link.get_attribute("href"), timeout=30).text.splitlines()]
    frames = [int(row[0]) for row in rows]
    assert {row[1] for row in rows} == {"1", "2"} and frames == sorted(frames)
    assert min(frames) <= reconnected_at < max(frames)
    assert [entry["message"] for entry in browser.get_log("browser")] == []  # no script errors


def gallery_cards(driver) -> dict[str, str]:
    """The gallery as {"#1": "tracked, seen 0 s ago", ...}."""
    cards = driver.execute_script(
        "return [...document.querySelectorAll('#gallery > div')].map(c => [c.querySelector('.label').textContent,"
        " c.querySelector('.line').textContent])")
    return {label.split()[0]: line for label, line in cards}


def card(driver, label: str):
    return next(c for c in driver.find_elements(By.CSS_SELECTOR, "#gallery > div")
                if c.find_element(By.CSS_SELECTOR, ".label").text.split()[0] == label)


def test_the_gallery_shows_what_reid_remembers_and_splits_and_merges_ids(browser, tmp_path, artifacts):
    video = blank_video(tmp_path / "clip.mp4")
    with running_console(tmp_path, console=scripted_console(tmp_path / "out"), sources=(video,)) as base:
        browser.get(base + "/sources/clip")
        # a leaves: its card stays, retired; it comes back and is revived: live again, with a split button
        wait_for(lambda: gallery_cards(browser).get("#1", "").startswith("retired"), 30, "a retired")
        wait_for(lambda: gallery_cards(browser).get("#1", "").startswith("tracked"), 30, "a revived")
        wait_for(lambda: browser.execute_script("const t = document.querySelector('#gallery img');"
                                                "return t && t.complete && t.naturalWidth > 0"), 10, "a thumbnail")
        assert set(gallery_cards(browser)) == {"#1", "#2"}
        assert card(browser, "#1").find_element(By.CSS_SELECTOR, "button.split").is_displayed()
        assert not card(browser, "#2").find_element(By.CSS_SELECTOR, "button.split").is_displayed()
        browser.save_screenshot(str(artifacts / "gallery.png"))

        card(browser, "#1").find_element(By.CSS_SELECTOR, "button.split").click()  # the revival was wrong
        message = wait_for(lambda: text(browser, "#gallery-message"), 10, "the answer")
        new_id = int(message.split("#")[-1])
        wait_for(lambda: gallery_cards(browser).get(f"#{new_id}", "").startswith("tracked"), 30, "the new ID")
        assert gallery_cards(browser)["#1"].startswith("retired")

        merge = card(browser, "#1").find_element(By.CSS_SELECTOR, "form.merge")  # it was right after all
        merge.find_element(By.CSS_SELECTOR, "input").send_keys(str(new_id))
        merge.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(lambda: gallery_cards(browser).get("#1", "").startswith("tracked"), 30, "the merge")
        wait_for(lambda: f"#{new_id}" not in gallery_cards(browser), 10, "the new ID leaving the gallery")
        assert f"split #{new_id}" in text(browser, "#events") and "merged #1" in text(browser, "#events")
        assert [entry["message"] for entry in browser.get_log("browser")] == []  # no script errors
