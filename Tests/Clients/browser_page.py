"""Drives `bld serve`'s page (/) in headless Chromium with Selenium.

Usage: python browser_page.py PORT INPUT.png DOWNLOAD_DIR SCREENSHOT.png
Loads the page, opens INPUT.png, paints one stroke, submits (paste background, 12 steps), waits for progress
events and the result, downloads it, and checks every pixel outside the stroke's box equals the input's.
Saves a screenshot of the page. Prints one JSON line; exits non-zero on failure.
"""
import glob
import json
import os
import shutil
import sys
import time

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

port, input_path, download_dir, screenshot_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
options = webdriver.ChromeOptions()
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
    options.add_argument(argument)
options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
options.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                          "download.prompt_for_download": False})
driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
try:
    driver.get(f"http://127.0.0.1:{port}/")
    driver.find_element(By.ID, "file").send_keys(os.path.abspath(input_path))
    WebDriverWait(driver, 20).until(lambda d: "empty" not in d.find_element(By.ID, "stage").get_attribute("class"))
    canvas = driver.find_element(By.ID, "mask-canvas")
    box = canvas.rect  # CSS pixels; the image is shown 512 px on its longer side
    source = Image.open(input_path).convert("RGB")
    scale = source.width / box["width"]
    # A horizontal stroke through the middle, brush 40 CSS px.
    start_x, end_x, y = box["width"] * 0.3, box["width"] * 0.7, box["height"] * 0.5
    chain = ActionChains(driver)
    chain.move_to_element_with_offset(canvas, int(start_x - box["width"] / 2), int(y - box["height"] / 2))
    chain.click_and_hold()
    for step in range(1, 11):
        chain.move_by_offset(int((end_x - start_x) / 10), 0)
    chain.release().perform()
    driver.find_element(By.ID, "prompt").send_keys("a red hat!")
    steps = driver.find_element(By.ID, "steps"); steps.clear(); steps.send_keys("12")
    seed = driver.find_element(By.ID, "seed"); seed.clear(); seed.send_keys("7")
    driver.find_element(By.ID, "submit").click()
    try:
        WebDriverWait(driver, int(os.environ.get("PAGE_TIMEOUT", "300"))).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-result-ready"))
    except Exception:
        raise SystemExit("no result; the page says: " + driver.find_element(By.ID, "status").text
                         + "; console: " + json.dumps(driver.get_log("browser")))
    progress_events = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-progress-events") or 0)
    assert progress_events > 0, "the page saw progress events"
    driver.save_screenshot(screenshot_path)
    driver.find_element(By.ID, "download").click()
    deadline = time.time() + 30
    files = []
    while time.time() < deadline:
        files = [f for f in glob.glob(os.path.join(download_dir, "*.png"))]
        if files:
            break
        time.sleep(0.2)
    assert files, "the result was downloaded"
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
    print(json.dumps({"progress_events": progress_events, "unmasked_pixels_checked": outside,
                      "changed_pixels_inside": changed_inside, "download": os.path.basename(files[0])}))
finally:
    driver.quit()
