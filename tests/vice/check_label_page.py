#!/usr/bin/python3
"""Answers a question on the page of `rl-label serve` in Debian's headless
Chromium (through chromedriver and python3-selenium), as a person would:
  * the page loads without a console error; the question's image and every
    example image load (natural size > 0);
  * clicking "Success" saves the answer and shows the next question;
  * a wrong token gets 403 and no page; answering a question again gets 409.
Prints one JSON object and keeps a screenshot of the first question.

  check_label_page.py URL_WITH_TOKEN SCREENSHOT.png
Exit 0 when every check passes, 1 otherwise, 2 on bad arguments.
"""
import json
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException

IMAGES = """return Array.from(document.images).map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}));"""


def status_of(url, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def main():
    if len(sys.argv) != 3:
        print("usage: check_label_page.py URL_WITH_TOKEN SCREENSHOT.png", file=sys.stderr)
        return 2
    url, screenshot = sys.argv[1], sys.argv[2]
    parts = urllib.parse.urlsplit(url)
    token = urllib.parse.parse_qs(parts.query).get("token", [""])[0]
    base = "%s://%s" % (parts.scheme, parts.netloc)
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
                 "--window-size=1000,700", "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-profile-")):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    failures = []
    result = {}
    try:
        driver.get(url)
        result["title"] = driver.title
        result["first"] = driver.find_element(By.ID, "pending").text
        images = driver.execute_script(IMAGES)
        result["images"] = len(images)
        failures += ["image did not load: " + i["src"] for i in images if not i["ok"]]
        if not driver.find_elements(By.ID, "query"):
            failures.append("no question image on the page")
        driver.save_screenshot(screenshot)
        driver.find_element(By.ID, "success").click()
        # The form posts and the server redirects to the next question; the click can return before
        # that page has loaded (it did once under a loaded ctest), so wait up to 30 s for the
        # confirmation instead of reading the page at once.
        try:
            WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: any("saved" in e.text for e in d.find_elements(By.ID, "said")))
        except TimeoutException:
            failures.append("no confirmation after answering")
        result["after"] = driver.find_element(By.ID, "pending").text
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        failures += ["console: " + e["message"] for e in errors]
        # Without the right token: 403 for the page, an image and an answer.
        result["wrong_token"] = [status_of(base + "/?token=wrong"), status_of(base + "/"),
                                 status_of(base + "/image/q-000001.png"),
                                 status_of(base + "/answer", b"id=2&label=success")]
        if token and result["wrong_token"] != [403, 403, 403, 403]:
            failures.append("a request without the token was not refused: %s" % result["wrong_token"])
        # With the token, a second answer to question 1 is refused.
        again = urllib.parse.urlencode({"id": "1", "label": "failure", "token": token}).encode()
        result["again"] = status_of(base + "/answer", again)
        if result["again"] != 409:
            failures.append("a second answer got %s, not 409" % result["again"])
    except Exception as error:  # any selenium failure is a failed check
        failures.append("%s: %s" % (type(error).__name__, error))
    finally:
        driver.quit()
    result["failures"] = failures
    print(json.dumps(result))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
