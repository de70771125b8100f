"""README's "Getting started", run as written.

Each fenced block of the section is taken from README.md itself, so editing the README
without keeping it true fails here. Two substitutions only: `cargo run --release --` becomes
the built binary (a release build belongs to the user's first hour, not to every test run),
and `127.0.0.1:8080` becomes the address the server actually took (it listens on port 0, so
a busy 8080 cannot fail the run). The server runs in a fresh directory, so `./openwelkin.db`
is new, exactly as on a fresh machine.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OPENWELKIN_BIN", ROOT / "target" / "debug" / "openwelkin")).resolve()
TIMEOUT = 120


def getting_started_blocks():
    """The fenced blocks of README's "Getting started" section, as (language, text)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Getting started", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w+)\n(.*?)```", section, re.S)]


def as_run_here(text, base):
    return text.replace("cargo run --release --", shlex.quote(str(BIN))).replace("http://127.0.0.1:8080", base)


@pytest.fixture(scope="module")
def blocks():
    found = getting_started_blocks()
    kinds = [k for k, _ in found]
    # start (sh), curl (sh), the Python client, Postman (sh), conftest.py, test_sandbox.py
    assert kinds == ["sh", "sh", "python", "sh", "python", "python"], kinds
    return found


@pytest.fixture(scope="module")
def server(blocks):
    work = Path(tempfile.mkdtemp(prefix="readme-"))
    start = as_run_here(blocks[0][1].strip(), "")
    assert start.endswith("serve --demo"), start
    # The one addition: port 0 instead of 8080 (see the module's comment).
    command = f"{start} --listen 127.0.0.1:0"
    env = dict(os.environ, OPENWELKIN_LOG="info", TMPDIR=str(work))
    env.pop("OPENWELKIN_DATABASE_URL", None)
    # Its own process group, so that the server (a child of bash) is stopped with it.
    proc = subprocess.Popen(["bash", "-c", command], cwd=work, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, seen, deadline = None, [], time.time() + 30
    while base is None and time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(r"listening on (http://\S+)", re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m:
            base = m.group(1).rstrip("/")
    assert base, "the server did not start:\n" + "".join(seen)
    # Keep reading its output so the pipe never fills.
    import threading
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    yield base, work
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    assert (work / "openwelkin.db").exists(), "the demo runs on ./openwelkin.db"


def run(argv, cwd, **kw):
    env = dict(os.environ, TMPDIR=str(cwd))
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, **kw)
    assert out.returncode == 0, f"{argv} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_step_2_curl(blocks, server):
    base, work = server
    out = run(["bash", "-euo", "pipefail", "-c", as_run_here(blocks[1][1], base)], work)
    # curl prints the list, then the created patient, with no newline between them.
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(out.strip()):
        doc, at = decoder.raw_decode(out, at)
        documents.append(doc)
    assert len(documents) == 2, out
    assert "content" in documents[0], "the first call lists patients"
    created = documents[1]
    assert (created["firstName"], created["lastName"]) == ("Ada", "Lovelace"), out
    assert created["id"]


def test_step_3_python_client(blocks, server):
    base, work = server
    out = run([sys.executable, "-c", as_run_here(blocks[2][1], base)], work)
    assert "Ada Lovelace" in out, out  # step 2 created her


def test_step_4_postman_collection(blocks, server):
    _, work = server
    run(["bash", "-euo", "pipefail", "-c", as_run_here(blocks[3][1], "")], work)
    collection = json.loads((work / "openwelkin.postman_collection.json").read_text())
    assert collection["item"], "the collection has requests"


def test_step_5_pytest_files(blocks, server):
    base, work = server
    suite = work / "suite"
    suite.mkdir()
    for _, text in blocks[4:6]:
        name = re.match(r"# (\S+\.py)", text).group(1)
        (suite / name).write_text(as_run_here(text, base))
    assert sorted(p.name for p in suite.iterdir()) == ["conftest.py", "test_sandbox.py"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=suite,
                         env=dict(os.environ, TMPDIR=str(work)), capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout + out.stderr
