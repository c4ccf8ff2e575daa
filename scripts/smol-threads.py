#!/usr/bin/env python3
# Per-thread CPU and context switches of echo-smol over a whole interleaved 1,000-connection
# point (epoll beside it, --no-perf), with 30 ms and with 1 s slices: the measurement behind
# README's smol row. Run from the checkout after `make release`: python3 scripts/smol-threads.py
import subprocess, time, glob, os, sys, json
def threads(pid):
    out={}
    for d in glob.glob(f"/proc/{pid}/task/*"):
        try:
            name=open(d+"/comm").read().strip(); ns=int(open(d+"/schedstat").read().split()[0])
            st=open(d+"/status").read()
            vol=int([l for l in st.splitlines() if l.startswith('voluntary_ctxt')][0].split()[1])
            inv=int([l for l in st.splitlines() if l.startswith('nonvoluntary_ctxt')][0].split()[1])
            out[d.split('/')[-1]]=(name,ns,vol,inv)
        except Exception: pass
    return out
for slice_ms,warm,rounds in [(30,20,60),(1000,200,4)]:
    outdir=f"/tmp/st-{slice_ms}"; subprocess.run(["rm","-rf",outdir])
    b=subprocess.Popen(["target/release/loadgen","bench","--suite","pingpong","--models","epoll,smol","--conns","1000","--blocks",str(rounds),"--slice",f"{slice_ms}ms","--slice-warmup",f"{warm}ms","--no-perf","--out",outdir],stdout=subprocess.DEVNULL)
    pid=None
    while pid is None and b.poll() is None:
        r=subprocess.run(["pgrep","-f","echo-smol"],capture_output=True,text=True).stdout.split()
        pid=int(r[0]) if r else None; time.sleep(0.05)
    first=None; last=None
    while b.poll() is None:
        t=threads(pid)
        if t: 
            if first is None: first=t
            last=t
        # stop at the rate point (its own new server): the pid changes
        time.sleep(0.2)
        if not os.path.exists(f"/proc/{pid}"): break
    b.wait()
    print(f"== {slice_ms} ms slices")
    for tid,(name,ns,vol,inv) in last.items():
        f=first.get(tid,(name,0,0,0))
        print(f"  {name:12s} cpu {(ns-f[1])/1e6:8.1f} ms  vol {vol-f[2]:7d} invol {inv-f[3]:7d}")
    r=json.load(open(outdir+"/raw.json"))
    ok=sum(x['report']['ok'] for x in r['runs'] if x['model']=='smol' and x['point']=='1000')
    print("  counted smol messages", ok)
