#!/usr/bin/env python3
# Start-up time of `fastcomments serve` on a fresh data dir: spawn → first 200 from /readyz (the
# store answers; /healthz only says the process serves HTTP).
# Usage: python3 tools/startup_time.py target/release/fastcomments
import subprocess, time, urllib.request, tempfile, os, sys, statistics
binary = os.path.abspath(sys.argv[1])
times = []
for i in range(5):
    d = tempfile.mkdtemp()
    t0 = time.time()
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    url = line.strip().split()[-1]
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200: break
        except Exception:
            time.sleep(0.005)
    times.append((time.time() - t0) * 1000)
    p.terminate(); p.wait()
print("fresh data dir, start → first 200 from /readyz (ms):", ", ".join(f"{t:.0f}" for t in times), "median", f"{statistics.median(times):.0f}")
