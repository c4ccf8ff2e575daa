#!/usr/bin/env bash
# Renders a bench's page, DIR/report.html (from `loadgen report DIR`), to DIR/report.png:
# headless chromium (scripts/deps.sh installs it), 1280 px wide, the page's full height,
# taken once the page has set data-rendered (page contract, loadgen/tests/html.rs). It
# drives chromium over its DevTools pipe (--remote-debugging-pipe) from the system Python,
# standard library only, to read the page's height and capture beyond the window.
#
#   scripts/page-screenshot.sh DIR          # `make screenshot DIR=...`
#
# Exits 1 when the page did not render ("data-rendered" missing or "error"), 2 on bad use.
set -euo pipefail
dir=${1:?usage: scripts/page-screenshot.sh DIR (holding report.html)}
[[ -f $dir/report.html ]] || { echo "page-screenshot: no $dir/report.html (run loadgen report $dir)" >&2; exit 2; }
command -v chromium >/dev/null || { echo "page-screenshot: chromium is missing: run scripts/deps.sh as root" >&2; exit 2; }
exec timeout 120 /usr/bin/python3 - "$dir/report.html" "$dir/report.png" 1280 <<'EOF'
import base64, json, os, shutil, subprocess, sys, tempfile, time

page, png, width = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
profile = tempfile.mkdtemp(prefix="page-screenshot-")
# DevTools messages are JSON, each ended by a NUL: to chromium on fd 3, from it on fd 4.
to_r, to_w = os.pipe()
from_r, from_w = os.pipe()


def fds():
    os.dup2(to_r, 3)
    os.dup2(from_w, 4)


proc = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
     "--no-first-run", "--disable-background-networking", "--disable-component-update",
     "--disable-sync", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
    pass_fds=(3, 4), preexec_fn=fds,
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_r)
os.close(from_w)
out, inp = os.fdopen(to_w, "wb"), os.fdopen(from_r, "rb")
buf, next_id = b"", 0


def call(method, session=None, **params):
    """Sends one DevTools command and returns its result (events in between are skipped)."""
    global buf, next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params}
    if session:
        msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0")
    out.flush()
    while True:
        while b"\0" not in buf:
            chunk = inp.read1(1 << 16)
            if not chunk:
                sys.exit(f"page-screenshot: chromium went away during {method}")
            buf += chunk
        raw, buf = buf.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                sys.exit(f"page-screenshot: {method}: {reply['error']}")
            return reply["result"]


def evaluate(session, expression):
    r = call("Runtime.evaluate", session, expression=expression, returnByValue=True)
    return r["result"].get("value")


def viewport(session, height):
    call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
         deviceScaleFactor=1, mobile=False)


try:
    target = call("Target.createTarget", url="about:blank")["targetId"]
    s = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    viewport(s, 800)
    call("Page.navigate", s, url="file://" + page)
    rendered = None
    deadline = time.monotonic() + 60
    while rendered not in ("ok", "error") and time.monotonic() < deadline:
        time.sleep(0.1)
        rendered = evaluate(s, "document.readyState === 'complete' && "
                               "document.documentElement.getAttribute('data-rendered')")
    if rendered != "ok":
        sys.exit(f"page-screenshot: {page} did not render: data-rendered is {rendered!r}")
    height = evaluate(s, "Math.ceil(document.documentElement.scrollHeight)")
    viewport(s, height)
    shot = call("Page.captureScreenshot", s, format="png", captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print(f"wrote {png} ({width} x {height} px)")
finally:
    try:
        out.write(json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        out.flush()
        proc.wait(timeout=10)
    except Exception:
        proc.kill()
    shutil.rmtree(profile, ignore_errors=True)
EOF
