#!/usr/bin/python3
"""Opens a run page in Debian's headless Chromium (through chromedriver and
python3-selenium), as a person would, and checks it:
  * every resource loads: no console error, every <video> and <img> without error;
  * every video has a playable codec: metadata with a non-zero duration and
    size, and it plays (its time advances);
  * the curve, the evaluation table and the failure reasons' rows (as shown) are on the page.
Prints one JSON object (load time, counts, failures) and keeps a screenshot.

  check_page.py PAGE.html SCREENSHOT.png
Exit 0 when every check passes, 1 otherwise, 2 on bad arguments.
"""
import json
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

VIDEOS = """return Array.from(document.querySelectorAll('video')).map(v => ({
  src: v.currentSrc, ready: v.readyState, duration: v.duration, width: v.videoWidth,
  time: v.currentTime, error: v.error ? v.error.code : null}));"""


def main():
    if len(sys.argv) != 3:
        print("usage: check_page.py PAGE.html SCREENSHOT.png", file=sys.stderr)
        return 2
    page, screenshot = os.path.abspath(sys.argv[1]), sys.argv[2]
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                 "--window-size=1200,1800", "--user-data-dir=" + profile):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    failures = []
    try:
        driver.get("file://" + page)  # returns once the load event has fired
        timing = driver.execute_script(
            "const t = performance.getEntriesByType('navigation')[0];"
            "return {load_ms: t.loadEventEnd - t.startTime, dom_ms: t.domContentLoadedEventEnd - t.startTime};")
        # Wait (up to 30 s) for every video's metadata, then play them all.
        deadline = time.time() + 30
        videos = driver.execute_script(VIDEOS)
        while time.time() < deadline and any(v["ready"] < 1 and v["error"] is None for v in videos):
            time.sleep(0.2)
            videos = driver.execute_script(VIDEOS)
        driver.execute_script("document.querySelectorAll('video').forEach(v => v.play());")
        deadline = time.time() + 15
        while time.time() < deadline:
            time.sleep(0.5)
            videos = driver.execute_script(VIDEOS)
            if all(v["time"] > 0 or v["error"] is not None for v in videos):
                break
        driver.execute_script("document.querySelectorAll('video').forEach(v => { v.pause(); v.currentTime = 0.4; });")
        time.sleep(0.5)
        for v in videos:
            name = v["src"].rsplit("/", 1)[-1]
            if v["error"] is not None:
                failures.append(f"{name}: media error {v['error']}")
            elif not (v["ready"] >= 1 and v["duration"] > 0 and v["width"] > 0):
                failures.append(f"{name}: no playable metadata (readyState {v['ready']}, duration {v['duration']})")
            elif v["time"] <= 0:
                failures.append(f"{name}: did not play")
        images = driver.execute_script(
            "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);")
        failures += [f"{src}: image did not load" for src in images]
        for entry in driver.get_log("browser"):
            if entry["level"] == "SEVERE":
                failures.append("console: " + entry["message"])
        checks = driver.execute_script(
            "return {curve: document.querySelectorAll('svg.curve circle').length,"
            " rows: document.querySelectorAll('table tr').length,"
            " failure_rows: Array.from(document.querySelectorAll('table.failures tr'))"
            "   .filter(r => r.getBoundingClientRect().height > 0).map(r => r.innerText.split('\\t')),"
            " h1: document.querySelector('h1') ? document.querySelector('h1').textContent : ''};")
        driver.save_screenshot(screenshot)
    finally:
        driver.quit()
    print(json.dumps({"load_ms": timing["load_ms"], "dom_ms": timing["dom_ms"], "videos": len(videos),
                      "durations": [v["duration"] for v in videos], "curve_points": checks["curve"],
                      "table_rows": checks["rows"], "failure_rows": checks["failure_rows"], "title": checks["h1"], "page_bytes": os.path.getsize(page),
                      "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
