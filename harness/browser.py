"""Headless Chromium (Debian's chromium + chromium-driver, installed by scripts/setup_chromium.sh) driven through
WebDriver, for the summary page's browser tests and the demo's screenshot."""

import shutil

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

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


def screenshot_summary_page(page_url: str, *, email: str, password: str, path: str) -> str:
    """Sign in through the page's login form (Dalgo's login API sets the cookie), open the summary page and save
    its screenshot; returns what a person reads on it."""
    driver = headless_chromium()
    try:
        driver.get(page_url)
        driver.find_element(By.ID, "username").send_keys(email)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "sign-in").click()
        WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.ID, "feedback")))
        # The whole page, not just the window: a tall enough window for everything it shows.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1100, max(int(height) + 40, 800))
        driver.save_screenshot(path)
        return driver.find_element(By.TAG_NAME, "main").text
    finally:
        driver.quit()
