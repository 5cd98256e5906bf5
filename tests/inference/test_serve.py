"""``emomtl serve``: the JSON API on a live server, and the page in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")

from emomtl.cli.main import build_parser, main  # noqa: E402
from emomtl.serve.app import ServeLimits, create_app, load_recognizer  # noqa: E402

from serve_fixtures import running, upload  # noqa: E402

#: The README's screenshot is refreshed only on request (EMOMTL_SCREENSHOT=docs/serve.png); tests never write the repo.
SCREENSHOT_ENV = "EMOMTL_SCREENSHOT"


@pytest.fixture(scope="module")
def server(plain):
    app = create_app(load_recognizer(plain[0].parent), ServeLimits(max_bytes=400_000, max_seconds=5.0))
    with running(app) as url:
        yield url


def _cli_prediction(checkpoint: Path, audio: str, out: Path) -> pd.Series:
    assert main(["predict", str(checkpoint), audio, "-o", str(out), "--quiet"]) == 0
    return pd.read_csv(out).iloc[0]


def test_api_equals_emomtl_predict_and_gives_a_timeline_for_a_long_recording(server, plain, tmp_path):
    checkpoint, table = plain
    audio = table["path"].iloc[0]
    status, body = upload(server, Path(audio).name, Path(audio).read_bytes())
    assert status == 200, body
    expected = _cli_prediction(checkpoint, audio, tmp_path / "p.csv")
    tasks = {t["name"]: t for t in body["tasks"]}
    assert tasks["emotion"]["label"] == expected["emotion"] and tasks["gender"]["label"] == expected["gender"]
    for name, p in tasks["emotion"]["probabilities"].items():
        assert p == pytest.approx(expected[f"emotion.prob.{name}"], abs=1e-6)
    assert tasks["va"]["values"]["valence"] == pytest.approx(expected["va.valence"], abs=1e-6)
    # 2.0 s of demo audio: windows of 0.4 s every 0.2 s -> 9 windows
    signal = np.concatenate([sf.read(p, dtype="float32")[0] for p in table["path"][:4]])[: 2 * 16000]
    sf.write(tmp_path / "long.wav", signal, 16000)
    status, body = upload(server, "long.wav", (tmp_path / "long.wav").read_bytes())
    assert status == 200 and body["seconds"] == pytest.approx(2.0)
    assert [(w["start"], w["end"]) for w in body["timeline"]] == [(round(0.2 * i, 3), round(0.2 * i + 0.4, 3))
                                                                  for i in range(9)]


def test_api_refuses_bad_type_size_content_and_duration_with_reasons(server, tmp_path):
    assert upload(server, "notes.txt", b"hello")[0] == 415
    status, body = upload(server, "big.wav", b"\0" * 400_001)
    assert status == 413 and "--max-upload-mb" in body["detail"]
    status, body = upload(server, "bad.wav", b"this is not audio" * 10)
    assert status == 400 and "bad.wav: not a readable audio file" in body["detail"]
    sf.write(tmp_path / "long.wav", np.random.default_rng(0).uniform(-0.1, 0.1, 6 * 8000).astype(np.float32), 8000)
    status, body = upload(server, "long.wav", (tmp_path / "long.wav").read_bytes())
    assert status == 400 and "--max-seconds" in body["detail"]


def test_openapi_documents_predict_and_serve_binds_to_localhost_by_default(server):
    with urllib.request.urlopen(server + "openapi.json", timeout=10) as response:
        schema = json.loads(response.read())
    assert "post" in schema["paths"]["/predict"]
    with urllib.request.urlopen(server + "docs", timeout=10) as response:
        assert b"swagger" in response.read().lower()
    args = build_parser().parse_args(["serve", "run/"])
    assert args.host == "127.0.0.1" and args.max_seconds > 0 and "wav" in args.allowed_types


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.skipif(_chromium() is None, reason="no chromium + chromedriver on PATH (Debian: apt-get install -y "
                                                "chromium chromium-driver); the browser test needs a real browser")
def test_page_in_headless_chromium_shows_the_label_of_emomtl_predict_and_errors(server, plain, tmp_path, monkeypatch):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = _chromium()
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        checkpoint, table = plain
        audio = table["path"].iloc[3]
        driver.get(server)
        WebDriverWait(driver, 10).until(lambda d: "Tasks:" in d.find_element(By.ID, "model-info").text)
        driver.find_element(By.ID, "file").send_keys(audio)
        driver.find_element(By.ID, "predict").click()
        label = WebDriverWait(driver, 20).until(conditions.visibility_of_element_located(
            (By.CSS_SELECTOR, "[data-task=emotion] .label")))
        expected = _cli_prediction(checkpoint, audio, tmp_path / "p.csv")
        assert label.text == expected["emotion"]
        gender = driver.find_element(By.CSS_SELECTOR, "[data-task=gender] .label").text
        assert gender == expected["gender"]
        classes = [c for c in expected.index if c.startswith("emotion.prob.")]
        assert len(driver.find_elements(By.CSS_SELECTOR, "[data-task=emotion] .bar")) == len(classes) > 1
        assert not driver.find_element(By.ID, "error").is_displayed()
        timeline_rows = driver.find_elements(By.CSS_SELECTOR, "#timeline-table tr")
        assert len(timeline_rows) > 2  # header + windows: demo recordings are longer than one 0.4 s window
        screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "serve.png")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 1000

        bad = tmp_path / "broken.wav"
        bad.write_bytes(b"not audio at all" * 20)
        driver.find_element(By.ID, "file").send_keys(str(bad))
        driver.find_element(By.ID, "predict").click()
        error = WebDriverWait(driver, 20).until(conditions.visibility_of_element_located((By.ID, "error")))
        assert "broken.wav: not a readable audio file" in error.text
        assert driver.find_elements(By.CSS_SELECTOR, "[data-task=emotion]") == []
    finally:
        driver.quit()


def test_emomtl_serve_command_serves_the_page_on_localhost(plain):
    import subprocess
    import sys
    import time

    from serve_fixtures import free_port

    port = free_port()
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen([sys.executable, "-m", "emomtl.cli.main", "serve", str(plain[0]), "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, page = time.monotonic() + 30, None
        while page is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(0.2)
        assert page is not None and 'id="file"' in page and 'id="record"' in page
    finally:
        process.terminate()
        process.wait(10)


def test_a_long_recording_is_refused_from_its_header_before_it_is_decoded(server, tmp_path, monkeypatch):
    def decoded(*args, **kwargs):
        raise AssertionError("the upload was decoded before its length was checked")

    monkeypatch.setattr("emomtl.serve.app.load_audio", decoded)
    sf.write(tmp_path / "silence.flac", np.zeros(600 * 8000, dtype=np.float32), 8000)  # 10 min in a few kB
    status, body = upload(server, "silence.flac", (tmp_path / "silence.flac").read_bytes())
    assert status == 400 and "600.0 s is longer than the limit" in body["detail"]


def test_an_oversized_body_is_refused_before_it_is_read_whole():
    import asyncio

    from emomtl.serve.app import UploadSizeLimit

    async def app(scope, receive, send):  # reads the whole body, as the form parser does
        while (await receive()).get("more_body"):
            pass
        raise AssertionError("the whole body was read")

    def request(headers, chunks):
        sent, consumed = [], []

        async def receive():
            consumed.append(1)
            return {"type": "http.request", "body": b"\0" * 65536, "more_body": len(consumed) < chunks}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}
        asyncio.run(UploadSizeLimit(app, max_bytes=100_000)(scope, receive, send))
        return sent[0]["status"], len(consumed)

    assert request([(b"content-length", b"10000000")], chunks=160) == (413, 0)  # refused from its header
    status, consumed = request([], chunks=160)  # streamed without a length: refused once past the limit
    assert status == 413 and consumed < 5
