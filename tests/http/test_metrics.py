#!/usr/bin/python3
"""test_metrics.py -- /metrics read by a real Prometheus parser (Debian's
python3-prometheus-client, text_string_to_metric_families) and its values
checked against `vmctl stat`; the exposition's names, types and content
type as the format 0.0.4 and Prometheus practice say; the other routes."""
import sys

from prometheus_client.parser import text_string_to_metric_families

import httpd

PAGE = 4096
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def scrape(d):
    status, ctype, body = d.get("/metrics")
    check(status == 200, "status %d" % status)
    check(ctype == "text/plain; version=0.0.4; charset=utf-8", "content type %r" % ctype)
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    return fams, body.decode()


def value(fams, name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


d = httpd.Daemon("--memory", "128M", "--quota-uid", "65534=1M", "--stall-timeout", "1s")
d.vmctl("alloc", "3M")
addr = d.vmctl("alloc", "64K").strip()
d.vmctl("free", addr)
d.vmctl("alloc-pages", "2")
try:
    d.vmctl("free", "0x1234")
except Exception:
    pass
st = d.stat()
fams, text = scrape(d)

# Names: prefix, base units, _total on counters only.
for f in fams.values():
    check(f.name.startswith("vmallocd_"), "prefix: " + f.name)
    check(f.documentation, "HELP of " + f.name)
    if f.type == "counter":
        check(f.name + "_total" in [s.name for s in f.samples] or not f.samples,
              "counter without _total: " + f.name)
for line in text.splitlines():
    if line.startswith("# TYPE") and line.split()[3] == "counter":
        check(line.split()[2].endswith("_total"), "counter named " + line.split()[2])

# Values against vmctl stat (nothing ran in between: the scrape is no request).
check(value(fams, "vmallocd_memory_total_bytes") == st["total_pages"] * PAGE, "total")
check(value(fams, "vmallocd_memory_bytes", state="free") == st["free_pages"] * PAGE, "free")
check(value(fams, "vmallocd_vmalloc_used_bytes") == st["vmalloc_pages"] * PAGE, "vmalloc used")
check(value(fams, "vmallocd_memory_bytes", state="page_tables") == st["pagetable_pages"] * PAGE,
      "page tables")
check(value(fams, "vmallocd_memory_bytes", state="alloc_pages") == st["alloc_pages_pages"] * PAGE,
      "alloc_pages")
check(value(fams, "vmallocd_lazy_bytes") == st["lazy_pages"] * PAGE, "lazy")
check(value(fams, "vmallocd_vmalloc_areas") == st["nr_areas"], "areas")
check(value(fams, "vmallocd_purges_total") == st["nr_purges"], "purges")
check(value(fams, "vmallocd_tlb_flushes_total") == st["nr_tlb_flushes"], "tlb flushes")
check(value(fams, "vmallocd_vmalloc_largest_free_bytes") == st["largest_free_kva_bytes"], "chunk")
check(value(fams, "vmallocd_errors_total") == st["errors"], "errors")
check(value(fams, "vmallocd_connections_total") == st["connections_total"], "connections")
states = sum(value(fams, "vmallocd_memory_bytes", state=s)
             for s in ("free", "vmalloc", "page_tables", "alloc_pages"))
check(states == st["total_pages"] * PAGE, "memory states sum to the total")

# Free blocks per zone and order against vmctl buddyinfo's numbers.
zones = [l.split() for l in d.vmctl("buddyinfo").splitlines()]
for z in zones:
    node, zone = z[1].rstrip(","), z[3]
    for order, n in enumerate(z[4:]):
        check(value(fams, "vmallocd_free_blocks", node=node, zone=zone, order=str(order)) == int(n),
              "free blocks node %s %s order %d" % (node, zone, order))

# Requests by operation and status; the histogram counts every request
# (stat's own request is the last one, made before the scrape).
check(value(fams, "vmallocd_requests_total", op="alloc", status="ok") == 2, "alloc ok")
check(value(fams, "vmallocd_requests_total", op="free", status="ok") == 1, "free ok")
check(value(fams, "vmallocd_requests_total", op="free", status="EINVAL") == 1, "free EINVAL (no area there)")
check(value(fams, "vmallocd_requests_total", op="alloc_pages", status="ok") == 1, "alloc_pages")
total = sum(s.value for s in fams["vmallocd_requests"].samples)
check(total == st["requests"], "requests %s, stat says %s" % (total, st["requests"]))
h = fams["vmallocd_request_duration_seconds"]
check(h.type == "histogram", "histogram type")
count = value(fams, "vmallocd_request_duration_seconds_count")
inf = value(fams, "vmallocd_request_duration_seconds_bucket", le="+Inf")
check(count == inf == st["requests"], "histogram count %s +Inf %s" % (count, inf))
# Each request timed from its own turn in the pass: no duration reaches back
# to an earlier pass (that would put an idle gap into it).
hsum = value(fams, "vmallocd_request_duration_seconds_sum")
check(0 < hsum < 0.1 * count, "histogram sum %s over %s requests" % (hsum, count))
check(value(fams, "vmallocd_request_duration_seconds_bucket", le="1") == count,
      "no request timed at over 1 s")
# Quotas only for the configured uid.
check(value(fams, "vmallocd_quota_limit_bytes", uid="65534") == 1 << 20, "quota limit")
check(value(fams, "vmallocd_quota_used_bytes", uid="65534") == 0, "quota used")
check(len(fams["vmallocd_quota_used_bytes"].samples) == 1, "quota for configured uids only")

# A second scrape after more work moves the counters.
d.vmctl("alloc", "1M")
fams2, _ = scrape(d)
check(value(fams2, "vmallocd_requests_total", op="alloc", status="ok") == 3, "alloc counted")

# The other routes.
status, ctype, body = d.get("/")
check(status == 200 and ctype.startswith("text/html") and b"<canvas" in body, "the page")
check(b"http://" not in body and b"https://" not in body, "the page loads nothing from outside")
status, ctype, body = d.get("/map.json")
check(status == 200 and ctype == "application/json", "map.json")
try:
    d.get("/nothing")
    check(False, "404")
except Exception as e:
    check(getattr(e, "code", 0) == 404, "404: %r" % e)
# A client that stalls in its request is dropped after stall-timeout (1 s
# here), as a stalled socket client is; the window still answers others.
import socket
import time
s = socket.create_connection(("127.0.0.1", d.port))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
s.settimeout(10)
try:
    data = s.recv(4096)
except OSError:
    data = None
waited = time.time() - t0
check(data == b"" and 0.5 < waited < 5, "stalled client: %r after %.1f s" % (data, waited))
s.close()
check(d.get("/metrics")[0] == 200, "the window answers after dropping a stalled client")
check(not any(n.startswith("vmallocd_state_") for n in fams), "no state metrics without a kept state")
check(d.stop() == 0, "vmallocd exit status")

# A daemon that keeps its state: the checkpoint and journal figures, the
# journal's records counted one per request that may change the machine.
import os
import tempfile
kept = tempfile.mkdtemp(prefix="vmd-state.")
k = httpd.Daemon("--memory", "64M", "--state-dir", kept, "--journal-size", "1M")
fk, _ = scrape(k)
gen0 = value(fk, "vmallocd_state_generation")
check(gen0 is not None and gen0 >= 1, "state generation %r" % gen0)
check(value(fk, "vmallocd_state_checkpoints_total") == 1, "the start's checkpoint")
check(value(fk, "vmallocd_state_journal_records_total") == 0, "no records yet")
check(value(fk, "vmallocd_state_journal_bytes") == 0, "an empty journal")
check(value(fk, "vmallocd_state_journal_capacity_bytes") >= 2 << 20, "journal capacity")
check(value(fk, "vmallocd_state_checkpoint_bytes") > 0, "checkpoint size")
a = k.vmctl("alloc", "64K").strip()
k.vmctl("alloc", "8K")
k.vmctl("free", a)
k.vmctl("stat")
fk, _ = scrape(k)
check(value(fk, "vmallocd_state_journal_records_total") == 3, "3 records for 2 allocs and a free: %r"
      % value(fk, "vmallocd_state_journal_records_total"))
check(0 < value(fk, "vmallocd_state_journal_bytes") < 4096, "journal bytes %r"
      % value(fk, "vmallocd_state_journal_bytes"))
check(k.stop() == 0, "vmallocd with a kept state: exit status")
for f in os.listdir(kept):
    os.unlink(os.path.join(kept, f))
os.rmdir(kept)
print("ok" if not failures else "%d failures" % failures)
sys.exit(1 if failures else 0)
