"""Drives `bld serve`'s page (/) in a headless browser: Chromium through Selenium and chromedriver, or Firefox
through its built-in Marionette server and Mozilla's `marionette_driver` client (no geckodriver).

Usage: python browser_page.py [--browser chromium|firefox] PORT INPUT.png DOWNLOAD_DIR SCREENSHOT.png
Loads the page, opens INPUT.png, paints one stroke with pointer events, submits (paste background, 12 steps),
waits for progress events and the result, downloads it, and checks every pixel outside the stroke's box equals
the input's. Saves a screenshot of the page. Prints one JSON line; exits non-zero on failure.
Firefox runs with a fresh profile in a temporary directory (under TMPDIR), removed afterwards, in its own process
group, killed as a group on every path (and by the kernel should this script itself be killed).
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from PIL import Image


def wait_until(condition, timeout, interval=0.1):
    """Polls `condition` until it returns a truthy value, which is returned; raises TimeoutError after `timeout`."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() >= deadline:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(interval)


def die_with_parent():
    """In a child before exec: Linux sends it SIGKILL when this script ends, however it ends."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Chromium:
    """Headless Chromium through Selenium and Debian's chromedriver."""

    def __init__(self, download_dir):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
            options.add_argument(argument)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        options.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                                  "download.prompt_for_download": False})
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                       options=options)

    def open(self, url):
        self.driver.get(url)

    def find(self, value, by="id"):
        return self.driver.find_element(by, value)

    def stroke(self, element, points):
        """Presses the left button at the first point, moves through the rest and releases; points are CSS
        pixels from the element's centre."""
        from selenium.webdriver.common.action_chains import ActionChains

        chain = ActionChains(self.driver)
        chain.move_to_element_with_offset(element, points[0][0], points[0][1])
        chain.click_and_hold()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            chain.move_by_offset(x1 - x0, y1 - y0)
        chain.release().perform()

    def screenshot(self, path):
        self.driver.save_screenshot(path)

    def diagnostics(self):
        return "console: " + json.dumps(self.driver.get_log("browser"))

    def close(self):
        self.driver.quit()


class Firefox:
    """Headless Firefox (Debian's firefox-esr) with its Marionette server on a free loopback port."""

    def __init__(self, download_dir):
        self.process, self.client = None, None
        self.profile = tempfile.mkdtemp(prefix="bld-firefox-profile-")
        try:
            self._start(download_dir)
        except BaseException:
            self.close()
            raise

    def _start(self, download_dir):
        try:
            from marionette_driver.geckoinstance import DesktopInstance, GeckoInstance
            from marionette_driver.marionette import Marionette
        except ImportError as error:
            raise SystemExit(f"{error}: run Scripts/install-dependencies.sh to add it to .build/client-venv")

        # Marionette's own recommended preferences for automation (no network, no first-run pages), then ours:
        # port 0 lets Marionette pick a free port, which it writes to MarionetteActivePort in the profile;
        # downloads go straight to `download_dir`.
        prefs = {**GeckoInstance.required_prefs, **DesktopInstance.desktop_prefs,
                 "marionette.port": 0,
                 "browser.download.folderList": 2, "browser.download.dir": download_dir,
                 "browser.download.useDownloadDir": True,
                 "browser.download.always_ask_before_handling_new_types": False,
                 "browser.helperApps.neverAsk.saveToDisk": "image/png",
                 "browser.download.alwaysOpenPanel": False}
        with open(os.path.join(self.profile, "user.js"), "w") as f:
            for name, value in prefs.items():
                f.write(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n")
        binary = shutil.which("firefox-esr") or shutil.which("firefox") or "/usr/bin/firefox-esr"
        self.process = subprocess.Popen(
            [binary, "--headless", "--marionette", "--no-remote", "--profile", self.profile,
             "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=die_with_parent,
            env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"})
        port_file = os.path.join(self.profile, "MarionetteActivePort")

        def active_port():
            if self.process.poll() is not None:
                raise RuntimeError("firefox exited (%d): %s" % (self.process.returncode,
                                                               self.process.stderr.read().decode(errors="replace")))
            try:
                with open(port_file) as f:
                    return int(f.read().strip() or 0)
            except FileNotFoundError:
                return 0

        port = wait_until(active_port, 120)
        self.client = Marionette(host="127.0.0.1", port=port)
        # The page's file input is hidden behind a label, as file inputs usually are; WebDriver's default (and
        # chromedriver's behaviour) lets keys reach it, while marionette_driver asks for strict checks.
        self.client.start_session({"strictFileInteractability": False}, timeout=60)
        self.client.set_window_rect(width=1280, height=1000)

    def open(self, url):
        self.client.navigate(url)

    def find(self, value, by="id"):
        return self.client.find_element(by, value)

    def stroke(self, element, points):
        """Presses the left button at the first point, moves through the rest and releases; points are CSS
        pixels from the element's centre (WebDriver's element origin)."""
        from marionette_driver.marionette import ActionSequence

        mouse = ActionSequence(self.client, "pointer", "mouse", {"pointerType": "mouse"})
        mouse.pointer_move(points[0][0], points[0][1], origin=element).pointer_down()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            mouse.pointer_move(x1 - x0, y1 - y0, origin="pointer")
        mouse.pointer_up().perform()
        self.client.actions.release()

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(self.client.screenshot(format="binary", full=False))

    def diagnostics(self):
        return "page: " + self.client.get_url()

    def close(self):
        try:
            if self.client is not None and self.client.session is not None:
                self.client.delete_session()
        except Exception:
            pass  # the process is killed below either way
        finally:
            if self.process is not None and self.process.poll() is None:
                # The whole group: the parent and its content processes.
                os.killpg(self.process.pid, signal.SIGKILL)
            if self.process is not None:
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--browser", choices=["chromium", "firefox"], default="chromium")
    parser.add_argument("port", type=int)
    parser.add_argument("input")
    parser.add_argument("download_dir")
    parser.add_argument("screenshot")
    arguments = parser.parse_args()
    # SIGTERM unwinds like an exception, so the browser is closed on that path too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    download_dir = os.path.abspath(arguments.download_dir)
    browser = None
    try:
        browser = {"chromium": Chromium, "firefox": Firefox}[arguments.browser](download_dir)
        report = drive(browser, arguments.port, arguments.input, download_dir, arguments.screenshot)
    finally:
        if browser is not None:
            browser.close()
    print(json.dumps({"browser": arguments.browser, **report}))


def drive(browser, port, input_path, download_dir, screenshot_path):
    browser.open(f"http://127.0.0.1:{port}/")
    browser.find("file").send_keys(os.path.abspath(input_path))
    wait_until(lambda: "empty" not in browser.find("stage").get_attribute("class"), 20)
    canvas = browser.find("mask-canvas")
    box = canvas.rect  # CSS pixels; the image is shown 512 px on its longer side
    source = Image.open(input_path).convert("RGB")
    scale = source.width / box["width"]
    # A horizontal stroke through the middle, brush 40 CSS px, in ten moves.
    start_x, end_x, y = box["width"] * 0.3, box["width"] * 0.7, box["height"] * 0.5
    first_x, first_y, step = int(start_x - box["width"] / 2), int(y - box["height"] / 2), int((end_x - start_x) / 10)
    points = [(first_x + k * step, first_y) for k in range(11)]
    browser.stroke(canvas, points)
    browser.find("prompt").send_keys("a red hat!")
    # Enough steps that the edit is still running when the page subscribes to its events, even on a loaded
    # machine (with 12 the tiny model could finish first, and the page then sees only the final event).
    steps = browser.find("steps"); steps.clear(); steps.send_keys("60")
    seed = browser.find("seed"); seed.clear(); seed.send_keys("7")
    browser.find("submit").click()
    body = browser.find("body", by="tag name")
    try:
        wait_until(lambda: body.get_attribute("data-result-ready"), int(os.environ.get("PAGE_TIMEOUT", "300")),
                   interval=0.5)
    except TimeoutError:
        raise SystemExit("no result; the page says: " + browser.find("status").text + "; " + browser.diagnostics())
    progress_events = int(body.get_attribute("data-progress-events") or 0)
    assert progress_events > 0, "the page saw progress events"
    browser.screenshot(screenshot_path)
    browser.find("download").click()

    def finished_download():
        # A download in progress has a partial file beside it (.crdownload in Chromium, .part in Firefox).
        if glob.glob(os.path.join(download_dir, "*.crdownload")) + glob.glob(os.path.join(download_dir, "*.part")):
            return None
        return sorted(glob.glob(os.path.join(download_dir, "*.png")))

    files = wait_until(finished_download, 30, interval=0.2)
    time.sleep(0.5)
    result = Image.open(files[0]).convert("RGB")
    assert result.size == source.size, (result.size, source.size)
    # Outside the stroke's box (brush radius 20 CSS px plus a 2-pixel margin) every pixel is the input's.
    radius = 20 * scale + 2
    left, right = start_x * scale - radius, end_x * scale + radius
    top, bottom = y * scale - radius, y * scale + radius
    differing_outside, changed_inside, outside = 0, 0, 0
    for py in range(source.height):
        for px in range(source.width):
            inside = left <= px + 0.5 <= right and top <= py + 0.5 <= bottom
            same = source.getpixel((px, py)) == result.getpixel((px, py))
            if inside:
                changed_inside += 0 if same else 1
            else:
                outside += 1
                differing_outside += 0 if same else 1
    assert outside > 0 and differing_outside == 0, f"{differing_outside} of {outside} unmasked pixels changed"
    assert changed_inside > 0, "the stroke's area was edited"
    return {"progress_events": progress_events, "unmasked_pixels_checked": outside,
            "changed_pixels_inside": changed_inside, "download": os.path.basename(files[0])}


if __name__ == "__main__":
    main()
