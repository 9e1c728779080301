"""httpd.py -- a real vmallocd with its HTTP window on a free loopback port,
for the tests in tests/http/: started on a private socket (under
$VMALLOCD_WRAPPER, valgrind in the 'valgrind' test setup, if set), stopped
(SIGTERM, then SIGKILL) however the test ends; stop() returns its exit
status, which must be 0."""
import atexit
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="vmd-http.")
        self.sock = os.path.join(self.dir, "vmallocd.sock")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.vmctl_bin = os.environ["VMCTL_BIN"]
        wrapper = os.environ.get("VMALLOCD_WRAPPER", "").split()
        self.proc = subprocess.Popen(
            wrapper + [os.environ["VMALLOCD_BIN"], "--config", "/dev/null", "--socket", self.sock,
             "--http", "127.0.0.1:%d" % self.port] + list(args),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        atexit.register(self.stop)
        deadline = time.time() + (120 if wrapper else 10)
        while time.time() < deadline:
            try:
                self.get("/metrics")
                if os.path.exists(self.sock):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("vmallocd did not come up: " + open(os.path.join(self.dir, "log")).read())

    def get(self, path, timeout=5):
        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()

    def vmctl(self, *args):
        out = subprocess.run([self.vmctl_bin, "--socket", self.sock] + list(args),
                             check=True, capture_output=True, text=True)
        return out.stdout

    def stat(self):
        return json.loads(self.vmctl("--json", "stat"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.isdir(self.dir):
            if self.proc.returncode != 0:
                print(open(os.path.join(self.dir, "log")).read())
            subprocess.run(["rm", "-rf", self.dir])
        return self.proc.returncode
