#!/usr/bin/python3
"""test_page.py -- the live page opened in a real browser: Debian's
chromium, headless, takes a screenshot of / served by a running vmallocd,
then another while a client allocates; both show the maps (the physical
map's free order-10 colour, the legend's), and the maps changed between
them (more vmalloc-red cells in the physical map, a longer red run in the
vmalloc strip).  With $VMD_SCREENSHOTS set the two screenshots are kept
there (docs/pictures holds the ones the documentation shows)."""
import os
import shutil
import subprocess
import sys
import threading
import time

import httpd

try:
    from PIL import Image
except ImportError:
    print("python3-pil is not installed")
    sys.exit(77)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("chromium is not installed")
    sys.exit(77)

ORDER10 = (0x08, 0x30, 0x6b)
VMALLOC = (0xd6, 0x27, 0x28)
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def screenshot(d, path):
    prof = os.path.join(d.dir, "profile")
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--no-first-run", "--disable-breakpad", "--user-data-dir=" + prof, "--window-size=1280,1100",
                        "--virtual-time-budget=4000", "--screenshot=" + path, d.base + "/"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=d.dir))
    check(r.returncode == 0 and os.path.exists(path), "chromium: %s" % r.stderr[-2000:])
    return Image.open(path).convert("RGB")


def near(p, c, tol=6):
    return all(abs(a - b) <= tol for a, b in zip(p, c))


def map_box(img):
    """The bounding box of the physical map: the rows where the order-10
    colour runs wide (the legend's swatch of it is a few pixels)."""
    w, h = img.size
    px = img.load()
    xs, ys = [], []
    for y in range(h):
        row = [x for x in range(w) if near(px[x, y], ORDER10)]
        if len(row) > 200:
            xs += [row[0], row[-1]]
            ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def count(img, box, colour):
    px = img.load()
    n = 0
    for y in range(box[1], box[3] + 1):
        for x in range(box[0], box[2] + 1):
            n += near(px[x, y], colour)
    return n


def red_rows(img, box):
    """Red pixels of the rows below the physical map: the vmalloc strip's."""
    px = img.load()
    w, h = img.size
    return sum(near(px[x, y], VMALLOC) for y in range(box[3] + 1, min(h, box[3] + 200))
               for x in range(0, w))


d = httpd.Daemon("--memory", "256M")
d.vmctl("alloc", "2M")
shot1 = os.path.join(d.dir, "page-1.png")
img1 = screenshot(d, shot1)
box1 = map_box(img1)
check(box1 is not None and box1[2] - box1[0] > 400, "the physical map is on the page: %r" % (box1,))

# A client allocates while the second screenshot is taken.
stop = threading.Event()


def allocate():
    n = 0
    while not stop.is_set() and n < 200:
        d.vmctl("alloc", "512K")
        if n % 4 == 0:
            d.vmctl("alloc-pages", "3")
        n += 1


t = threading.Thread(target=allocate)
for _ in range(60):
    d.vmctl("alloc", "512K")
t.start()
shot2 = os.path.join(d.dir, "page-2.png")
img2 = screenshot(d, shot2)
stop.set()
t.join()
box2 = map_box(img2)
check(box2 is not None, "the physical map is on the second page")
if box1 and box2:
    box = (min(box1[0], box2[0]), min(box1[1], box2[1]), max(box1[2], box2[2]), max(box1[3], box2[3]))
    r1, r2 = count(img1, box, VMALLOC), count(img2, box, VMALLOC)
    check(r2 > r1, "vmalloc cells in the physical map: %d then %d" % (r1, r2))
    s1, s2 = red_rows(img1, box), red_rows(img2, box)
    check(s1 > 0 and s2 != s1, "the vmalloc strip: %d then %d red pixels" % (s1, s2))
    print("physical map at %r; vmalloc-red pixels %d -> %d; strip %d -> %d" % (box, r1, r2, s1, s2))
keep = os.environ.get("VMD_SCREENSHOTS")
if keep:
    shutil.copy(shot1, os.path.join(keep, "page-1.png"))
    shutil.copy(shot2, os.path.join(keep, "page-2.png"))
check(d.stop() == 0, "vmallocd exit status")
print("ok" if not failures else "%d failures" % failures)
sys.exit(1 if failures else 0)
