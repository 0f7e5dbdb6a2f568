"""Headless Chromium (Debian's chromium + chromium-driver, installed by scripts/setup_chromium.sh) driven through
WebDriver, for the summary page's browser tests and the demo's screenshot."""

import shutil

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = "1100,1400"


def chromium_installed() -> bool:
    """Whether Debian's chromium and its driver are on this machine."""
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def headless_chromium() -> webdriver.Chrome:
    """A new headless Chromium; the caller quits it. The binaries are given, so Selenium downloads nothing."""
    options = Options()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={WINDOW}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver
