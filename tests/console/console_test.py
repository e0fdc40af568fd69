#!/usr/bin/python3
"""The console in a real browser (docs/console.md): headless Chromium driven by chromedriver through
Selenium, against a running `promoledger serve` (scripts/console_test.sh starts it on a demo database).

It signs in as each kind of user, opens every page, checks the figures on the page against the API's
JSON (read with a bearer token, beside the browser), downloads the CSV, creates a campaign through the
form (with its errors) and approves it as a second operator, and checks that a wrong token and a
missing session are refused. A screenshot of each page is saved in --out. Any failed check fails the
run (exit 1); nothing is skipped.
"""
import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SHANGHAI = ZoneInfo("Asia/Shanghai")
WAIT_S = 20


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def cny(amount):
    """The console's display of an API amount: "1234567.80" -> "1,234,567.80"."""
    negative = amount.startswith("-")
    whole, cents = amount.lstrip("-").split(".")
    return ("-" if negative else "") + f"{int(whole):,}" + "." + cents


def shanghai(utc_text):
    """The API's "YYYY-MM-DD HH:MM:SS" UTC as the console shows it, in Asia/Shanghai."""
    t = datetime.strptime(utc_text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


class Api:
    """The service's API with a bearer token, and raw requests (no redirects followed)."""

    def __init__(self, base_url):
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port = u.hostname, u.port

    def raw(self, method, path, headers=None, body=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = dict(headers or {})
        if body is not None or method == "POST":
            hdrs.setdefault("Content-Length", str(len(body or b"")))
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        out = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        c.close()
        return out

    def json(self, method, path, token, body=b""):
        status, _, data = self.raw(method, path, {"Authorization": "Bearer " + token}, body if method == "POST" else None)
        check(200 <= status < 300, f"API {method} {path}: HTTP {status} {data[:300]!r}")
        return json.loads(data)


class Console:
    def __init__(self, base_url, out_dir, work_dir):
        self.base = base_url
        self.out = out_dir
        self.downloads = os.path.join(work_dir, "downloads")
        os.makedirs(self.downloads, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1400,1000", "--lang=en-US",
                     f"--user-data-dir={os.path.join(work_dir, 'chromium-profile')}"):
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"download.default_directory": self.downloads,
                                                  "download.prompt_for_download": False})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.set_page_load_timeout(WAIT_S)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": self.downloads})
        self.shots = []

    def quit(self):
        self.driver.quit()

    def drain_log(self):
        # The browser logs every 4xx it was answered (a refused sign-in, a maker-checker refusal...): a
        # step that provokes them on purpose drains them, so no_console_errors judges only the page after.
        self.driver.get_log("browser")

    def open(self, path):
        self.drain_log()
        self.driver.get(self.base + path)

    def path(self):
        u = urllib.parse.urlsplit(self.driver.current_url)
        return u.path + (("?" + u.query) if u.query else "")

    def wait(self, condition, what):
        try:
            # A page re-rendering replaces elements while a condition reads them: read again.
            return WebDriverWait(self.driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException]).until(
                lambda d: condition())
        except TimeoutException:
            raise Failure(f"timed out waiting for {what} on {self.driver.current_url}")

    def wait_ready(self):
        self.wait(lambda: self.driver.execute_script("return document.body.dataset.ready === '1'"), "the page's data")

    def click(self, element_id):
        # Scrolled to the middle first: a button below the fold is otherwise "not clickable" in a
        # headless window of fixed size.
        e = self.driver.find_element(By.ID, element_id)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", e)
        e.click()

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text.strip()

    def shot(self, name):
        # The whole page (up to 3,000 px), not only the window: a trace's lines are below the fold.
        path = os.path.join(self.out, name + ".png")
        height = self.driver.execute_script("window.scrollTo(0, 0); return document.documentElement.scrollHeight")
        self.driver.set_window_size(1400, min(max(int(height) + 120, 640), 3000))  # + the window frame
        self.driver.save_screenshot(path)
        self.driver.set_window_size(1400, 1000)
        self.shots.append(path)
        self.small_screens(name)

    def small_screens(self, name):
        # A phone (390 CSS px, as a mobile browser lays it out) and a tablet (768): the page must not be
        # wider than the screen (tables scroll inside their own box); the phone's view is saved too.
        for width, suffix in ((768, None), (390, "phone")):
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                        {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True})
            try:
                # Charts follow their box on the next frames (Chart.js's ResizeObserver): the page is
                # judged once its layout has settled, within 3 s, as a person would see it.
                deadline = time.monotonic() + 3
                while True:
                    wide = self.driver.execute_script(
                        "window.scrollTo(0, 0); const d = document.documentElement;"
                        "return [d.scrollWidth, d.clientWidth, d.scrollHeight];")
                    if wide[0] <= wide[1] or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                check(wide[0] <= wide[1], f"{name}: {wide[0]} px wide on a {width} px screen (wider than the screen)")
                if suffix:
                    self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                                {"width": width, "height": min(max(int(wide[2]), 640), 3000),
                                                 "deviceScaleFactor": 1, "mobile": True})
                    path = os.path.join(self.out, f"{name}-{suffix}.png")
                    self.driver.save_screenshot(path)
                    self.shots.append(path)
            finally:
                self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def no_console_errors(self, page):
        # Content-Security-Policy violations and script errors are SEVERE entries in the browser's log.
        severe = [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        check(not severe, f"{page}: the browser logged errors: {severe}")

    def sign_in(self, token):
        self.open("/console/sign-in")  # drains the log
        box = self.driver.find_element(By.ID, "token")
        box.clear()
        box.send_keys(token)
        self.click("sign-in")

    def sign_out(self):
        self.click("sign-out")
        self.wait(lambda: self.path() == "/console/sign-in", "the sign-in page after signing out")


def refusals_without_a_session(api):
    """Every page and the API refuse a request that has no valid session."""
    for page in ("/console/campaigns", "/console/campaign?id=1", "/console/new-campaign", "/console/outlets",
                 "/console/trace", "/console/verify"):
        for cookie in (None, "pl_session=" + "b" * 64):
            status, headers, body = api.raw("GET", page, {"Cookie": cookie} if cookie else {})
            check(status == 303 and headers.get("location") == "/console/sign-in",
                  f"{page} without a valid session: HTTP {status} {headers.get('location')}")
            check(b"csrf-token" not in body, f"{page} without a session leaked the page")
    status, _, body = api.raw("GET", "/v1/campaigns", {"Cookie": "pl_session=" + "c" * 64})
    check(status == 401 and json.loads(body)["error"] == "unauthorized", f"API without a session: HTTP {status}")


def wrong_tokens_are_refused(c, tokens):
    c.open("/")
    c.wait(lambda: c.path() == "/console/sign-in", "the redirect to sign-in")
    c.shot("01-sign-in")
    c.sign_in("plt_" + "0" * 64)
    c.wait(lambda: c.driver.find_elements(By.ID, "sign-in-error"), "the wrong token's message")
    check("not valid" in c.text("sign-in-error"), "a wrong token is explained")
    check(not c.driver.get_cookies(), "no cookie after a wrong token")
    c.sign_in(tokens["poster"][0][1])
    c.wait(lambda: c.driver.find_elements(By.ID, "sign-in-error"), "the poster token's message")
    check("poster" in c.text("sign-in-error"), "a poster token is refused with its reason")
    check(not c.driver.get_cookies(), "no cookie for a poster token")


def campaigns_pages(c, api, token):
    c.sign_in(token)
    c.wait(lambda: c.path() == "/console/campaigns", "the campaigns page after sign-in")
    cookie = {k["name"]: k for k in c.driver.get_cookies()}.get("pl_session")
    check(cookie is not None, "the session cookie is set")
    check(cookie["httpOnly"] is True, "the session cookie is HttpOnly")
    check(cookie.get("sameSite") == "Strict", f"the session cookie is SameSite=Strict: {cookie}")
    check(token not in cookie["value"], "the cookie is not the token")
    c.wait_ready()
    listed = api.json("GET", "/v1/campaigns", token)
    rows = c.driver.find_elements(By.CSS_SELECTOR, "#campaigns tbody tr")
    check(len(rows) == len(listed) and listed, f"{len(rows)} rows on the page, {len(listed)} campaigns in the API")
    for row, campaign in zip(rows, listed):
        cell = lambda cls: row.find_element(By.CLASS_NAME, cls).text.strip()
        check(cell("c-name") == campaign["name"], f"name {cell('c-name')!r} vs {campaign['name']!r}")
        check(cell("c-status") == campaign["status"], "status")
        check(cell("c-merchants") == str(campaign["merchant_count"]), "merchants")
        check(cell("c-budget") == cny(campaign["budget_total"]), f"budget {cell('c-budget')} vs {campaign['budget_total']}")
        check(cell("c-reserved") == cny(campaign["budget_reserved"]), "reserved")
        check(cell("c-spent") == cny(campaign["budget_spent"]), "spent")
        check(row.find_elements(By.CSS_SELECTOR, ".progress .progress-bar"), "the budget bar")
    c.shot("02-campaigns")
    c.no_console_errors("campaigns")

    first = listed[0]
    c.driver.find_element(By.LINK_TEXT, first["name"]).click()
    c.wait(lambda: c.path() == f"/console/campaign?id={first['id']}", "the campaign page")
    c.wait_ready()
    shown = api.json("GET", f"/v1/campaigns/{first['id']}", token)
    days = api.json("GET", f"/v1/campaigns/{first['id']}/days", token)
    values = api.json("GET", f"/v1/campaigns/{first['id']}/card-values", token)
    check(c.text("budget-total") == cny(shown["budget_total"]), "budget total")
    check(c.text("budget-spent") == cny(shown["budget_spent"]), "budget spent")
    check(c.text("budget-left") == cny(shown["budget_left"]), "budget left")
    check(c.text("subsidy-total") == cny(days["subsidy_total"]), f"subsidy {c.text('subsidy-total')} vs {days['subsidy_total']}")
    check(c.text("band-share") == values["band_share"], "band share")
    check(c.text("cards-total") == str(values["cards"]), "cards dealt")
    check(c.text("cards-in-band") == str(values["cards_in_band"]), "cards in band")
    events = c.driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    check(len(events) == len(shown["events"]), "one row per lifecycle event")
    for row, event in zip(events, shown["events"]):
        check(row.find_element(By.CLASS_NAME, "e-actor").text == event["actor"], "event actor")
        at = row.find_element(By.CLASS_NAME, "e-at").text
        check(at == shanghai(event["at_utc"]), f"event time {at} is {event['at_utc']} UTC in Asia/Shanghai")
    actors = [e["actor"] for e in shown["events"]]
    check("ops.zhang" in actors and "fin.li" in actors, f"creator and approver in the events: {actors}")
    plotted = c.driver.execute_script(
        "const d = Chart.getChart('days-chart'); const h = Chart.getChart('cards-chart');"
        "return [d.data.labels, d.data.datasets[0].data, h.data.datasets[0].data];")
    check(plotted[0] == [d["business_day"] for d in days["days"]], f"the day chart's days: {plotted[0]}")
    check(len(plotted[0]) >= 2, "two simulated days are charted")
    check(plotted[1] == [float(d["subsidy"]) for d in days["days"]], "the day chart's bars are the API's subsidies")
    check(plotted[2] == [b["cards"] for b in values["bins"]], "the histogram's bars are the API's bins")
    check(sum(plotted[2]) == values["cards"], "every dealt card is in the histogram")
    c.shot("03-campaign")
    c.no_console_errors("campaign")
    return first


def outlets_page(c, api, token):
    rng = "from=2026-11-24&to=2026-11-25"
    c.open("/console/outlets?" + rng)
    c.wait_ready()
    report = api.json("GET", "/v1/reports/outlets?" + rng, token)
    daily = api.json("GET", "/v1/reports/outlets/daily?" + rng, token)
    rows = c.driver.find_elements(By.CSS_SELECTOR, "#outlets tbody tr")
    check(len(rows) == len(report["rows"]), f"{len(rows)} rows vs {len(report['rows'])}")
    levels = set()
    for row, r in zip(rows, report["rows"]):
        levels.add(r["level"])
        cell = lambda cls: row.find_element(By.CLASS_NAME, cls).text.strip()
        unit = {"outlet": r["outlet"], "sub_branch": r["sub_branch"], "branch": r["branch"]}[r["level"]]
        check(cell("o-unit") == unit, f"unit {cell('o-unit')} vs {unit}")
        check(cell("o-payments") == r["payments"], "payments")
        check(cell("o-share") == r["bank_app_share"], "bank-app share")
        check(cell("o-net") == cny(r["net_subsidy"]), f"net subsidy {cell('o-net')} vs {r['net_subsidy']}")
    check(levels == {"outlet", "sub_branch", "branch"}, f"the roll-up shows every level: {levels}")
    check(c.text("net-subsidy-total") == cny(daily["net_subsidy_total"]), "net subsidy total")
    plotted = c.driver.execute_script("return Chart.getChart('subsidy-chart').data.datasets[0].data;")
    check(plotted == [float(d["net_subsidy"]) for d in daily["days"]], "the subsidy chart is the API's days")
    c.shot("04-outlets")
    c.no_console_errors("outlets")

    # The CSV, downloaded by the browser with its session, is the API's CSV byte for byte.
    c.click("csv")
    name = "outlets-2026-11-24-2026-11-25.csv"
    target = os.path.join(c.downloads, name)
    c.wait(lambda: os.path.exists(target) and not os.path.exists(target + ".crdownload"), "the CSV download")
    with open(target, "rb") as f:
        downloaded = f.read()
    status, headers, expected = api.raw("GET", "/v1/reports/outlets?" + rng + "&format=csv",
                                        {"Authorization": "Bearer " + token})
    check(status == 200 and downloaded == expected, "the downloaded CSV is the API's")
    check(len(downloaded.decode().splitlines()) == len(report["rows"]) + 1, "one CSV line per row, and the header")
    with open(os.path.join(c.out, name), "wb") as f:
        f.write(downloaded)

    # Finance may not open the auditors' pages.
    c.open("/console/trace")
    check(c.driver.find_elements(By.ID, "forbidden"), "finance is refused the trace page")


def create_and_approve(c, api, maker, checker):
    c.sign_in(maker)
    c.wait(lambda: c.path() == "/console/campaigns", "sign-in as the maker")
    c.open("/console/new-campaign")
    name = "美食街随机立减 (second street)"
    values = {"name": name, "funding_branch": "BR-HZ", "gl_code": "660101", "merchants": "M017 M018",
              "first_day": "2026-12-01", "last_day": "2026-12-31", "max_discount": "10.001", "budget_total": "100.00"}
    for field, value in values.items():
        box = c.driver.find_element(By.ID, "f-" + field)
        box.clear()
        box.send_keys(value)
    c.click("save-draft")
    # First: a parameter that cannot be read, shown next to its field.
    c.wait(lambda: c.text("err-max_discount") != "", "the max_discount error")
    check("two decimals" in c.text("err-max_discount"), c.text("err-max_discount"))
    check("is-invalid" in c.driver.find_element(By.ID, "f-max_discount").get_attribute("class"), "field marked")
    # Then: readable but infeasible; the budget is explained.
    box = c.driver.find_element(By.ID, "f-max_discount")
    box.clear()
    box.send_keys("10.00")
    c.click("save-draft")
    c.wait(lambda: c.text("err-budget_total") != "", "the budget explanation")
    check("worst day" in c.text("err-budget_total"), c.text("err-budget_total"))
    check(c.text("err-max_discount") == "", "the fixed field's error is gone")
    c.shot("05-new-campaign-errors")
    box = c.driver.find_element(By.ID, "f-budget_total")
    box.clear()
    box.send_keys("5000.00")
    c.click("save-draft")
    c.wait(lambda: c.path().startswith("/console/campaign?id="), "the new draft's page")
    campaign_id = c.path().split("=", 1)[1]
    c.wait_ready()
    c.wait(lambda: c.text("campaign-status") == "draft", "the draft status")
    check(name in c.text("campaign-title"), f"the Chinese name displays: {c.text('campaign-title')}")
    # The maker cannot approve it.
    c.click("approve")
    c.wait(lambda: "maker_checker" in c.text("error"), "the maker-checker refusal")
    c.sign_out()

    c.sign_in(checker)
    c.wait(lambda: c.path() == "/console/campaigns", "sign-in as the checker")
    c.open("/console/campaign?id=" + campaign_id)
    c.wait_ready()
    c.click("approve")
    c.wait(lambda: c.text("campaign-status") == "approved", "the approval")
    reason = c.driver.find_element(By.ID, "reason")
    reason.send_keys("商户装修 renovation")
    c.click("pause")
    c.wait(lambda: c.text("campaign-status") == "paused", "the pause")
    shown = api.json("GET", "/v1/campaigns/" + campaign_id, checker)
    check(shown["name"] == name, "the name is stored as typed")
    actors = [(e["action"], e["actor"]) for e in shown["events"]]
    check(actors[0] == ("create", "api:ops-maker") and actors[1] == ("approve", "api:ops-checker")
          and actors[2] == ("pause", "api:ops-checker"), f"maker and checker recorded: {actors}")
    rows = c.driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    check(len(rows) == 3, "the page shows the three events")
    c.shot("06-campaign-approved")
    c.no_console_errors("campaign as operator")
    c.sign_out()


def auditor_pages(c, api, token, payment_id):
    c.sign_in(token)
    c.wait(lambda: c.path() == "/console/campaigns", "sign-in as the auditor")
    c.open("/console/trace")
    c.driver.find_element(By.ID, "payment-id").send_keys(payment_id)
    c.click("trace")
    c.wait(lambda: c.driver.find_element(By.ID, "chain").is_displayed(), "the chain")
    trace = api.json("GET", "/v1/audit/trace/" + urllib.parse.quote(payment_id), token)
    page = c.driver.find_element(By.ID, "chain").text
    for needle in (trace["card"]["seed_commitment"], trace["campaign"]["created_by"], trace["campaign"]["approved_by"],
                   trace["entry"]["content_hash"], cny(trace["payment"]["amount"])):
        check(needle in page, f"the chain shows {needle}")
    lines = c.driver.find_elements(By.CSS_SELECTOR, "#t-lines tbody tr")
    check(len(lines) == len(trace["entry"]["lines"]) == 3, f"the entry's three lines: {len(lines)}")
    for row, line in zip(lines, trace["entry"]["lines"]):
        check(row.find_element(By.CLASS_NAME, "l-hash").text == line["line_hash"], "line hash")
        check(row.find_element(By.CLASS_NAME, "l-amount").text == cny(line["amount"]), "line amount")
    c.shot("07-trace")
    c.no_console_errors("trace")

    c.open("/console/trace?payment_id=no-such-payment")
    c.wait(lambda: "unknown_payment" in c.text("error"), "the unknown payment's message")

    c.open("/console/verify")
    c.click("run-verify")
    c.wait(lambda: c.driver.find_element(By.ID, "verify-result").is_displayed(), "the verify result")
    report = api.json("POST", "/v1/audit/verify", token)
    check(c.text("chain-digest") == report["chain_digest"], "the chain digest")
    rows = c.driver.find_elements(By.CSS_SELECTOR, "#checks tbody tr")
    check([r.get_attribute("data-check") for r in rows] == [k["name"] for k in report["checks"]], "every check listed")
    check(report["ok"] and c.text("verify-ok") == "every check passed", "verify passes on the demo")
    c.shot("08-verify")
    c.no_console_errors("verify")
    c.sign_out()
    # After signing out, the old page is refused.
    c.open("/console/verify")
    check(c.path() == "/console/sign-in", "a signed-out browser is sent to sign in")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--tokens", required=True, help="lines: role name token")
    ap.add_argument("--payment-id", required=True, help="a discounted payment to trace")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    tokens = {}
    with open(args.tokens) as f:
        for line in f:
            role, name, token = line.split()
            tokens.setdefault(role, []).append((name, token))
    api = Api(args.base_url)
    started = time.monotonic()
    steps = 0
    refusals_without_a_session(api)
    c = Console(args.base_url, args.out, args.work)
    try:
        for step in (lambda: wrong_tokens_are_refused(c, tokens),
                     lambda: campaigns_pages(c, api, tokens["finance"][0][1]),
                     lambda: outlets_page(c, api, tokens["finance"][0][1]),
                     lambda: c.sign_out(),
                     lambda: create_and_approve(c, api, dict(tokens["operator"])["ops-maker"],
                                                dict(tokens["operator"])["ops-checker"]),
                     lambda: auditor_pages(c, api, tokens["auditor"][0][1], args.payment_id)):
            step()
            steps += 1
    except Exception as e:  # a failed check, or the browser's own error (element not found, timeout...)
        c.shot("failure")
        print(f"console_test.py: FAILED after {steps} steps: {e}", file=sys.stderr)
        return 1
    finally:
        c.quit()
    print(f"console_test.py: {steps} steps passed in {time.monotonic() - started:.1f} s; "
          f"{len(c.shots)} screenshots: {', '.join(os.path.basename(s) for s in c.shots)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
