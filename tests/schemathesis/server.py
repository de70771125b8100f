"""Start `openwelkin serve --demo` on port 0 with a fresh SQLite database, and sign in as
the demo API client. Shared by the schemathesis run and nothing else needs a network."""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"listening on http://(\S+)")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def binary():
    return os.environ.get("OPENWELKIN_BIN") or str(ROOT / "target" / "debug" / "openwelkin")


class Server:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="openwelkin-st-")
        db = "sqlite://" + str(Path(self.tmp, "openwelkin.db"))
        env = dict(os.environ, OPENWELKIN_LOG=os.environ.get("OPENWELKIN_LOG", "warn"))
        self.proc = subprocess.Popen(
            [binary(), "serve", "--demo", "--listen", "127.0.0.1:0", "--database", db],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL,
        )
        self.log = []
        found = threading.Event()

        def pump():
            for line in self.proc.stdout:
                line = ANSI_RE.sub("", line)
                self.log.append(line)
                m = LISTEN_RE.search(line)
                if m and not found.is_set():
                    self.base = "http://" + m.group(1)
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise SystemExit("the server did not start:\n" + "".join(self.log[-40:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def call(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def token(self):
        return self.call("POST", "/demo/admin/api_clients/DEMOAPICLIENT", {"secret": "demo-secret"})["token"]
