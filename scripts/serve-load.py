#!/usr/bin/env python3
"""A bounded load generator for `bcvk serve` on loopback: for each --parallel setting it starts
the server, then for each client count runs that many concurrent streaming clients, each sending
--requests chat requests (greedy, --max-tokens each), and reports the median time to first token
and the aggregate completion tokens/s.  Standard library only.

    python3 scripts/serve-load.py [--bcvk build/bcvk] [--model M] [--parallel 1,2,4]
                                  [--clients 1,2,4,8] [--requests 2] [--max-tokens 16]
                                  [--json out.json]
"""
import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time

PROMPTS = ["Name a color.", "What is 3+4?", "Say hello in French.", "Name a planet.",
           "What is a GPU?", "Name a bird.", "What is the opposite of hot?", "Name a metal."]


def start(bcvk, model, parallel, ctx):
    p = subprocess.Popen([bcvk, "serve", "-m", model, "--port", "0", "-c", str(ctx), "-q",
                          "--parallel", str(parallel)], stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, int(m.group(1))
    raise RuntimeError("bcvk serve did not start")


def one_request(port, prompt, max_tokens):
    """Streams one chat completion; returns (time to first content, completion tokens)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "temperature": 0,
                       "max_tokens": max_tokens, "stream": True,
                       "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, r.status
    ttft, tokens, buf = None, 0, b""
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            data = event.decode()[6:]
            if data == "[DONE]":
                continue
            j = json.loads(data)
            if j.get("usage"):
                tokens = j["usage"]["completion_tokens"]
            for c in j["choices"]:
                if c["delta"].get("content") and ttft is None:
                    ttft = time.perf_counter() - t0
    conn.close()
    return ttft if ttft is not None else time.perf_counter() - t0, tokens


def run(port, clients, requests, max_tokens):
    ttfts, tokens, lock = [], [0], threading.Lock()

    def client(i):
        for k in range(requests):
            t, n = one_request(port, PROMPTS[(i + k) % len(PROMPTS)], max_tokens)
            with lock:
                ttfts.append(t)
                tokens[0] += n

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": clients * requests, "completion_tokens": tokens[0],
            "wall_s": round(wall, 2), "aggregate_tokens_per_s": round(tokens[0] / wall, 2),
            "ttft_median_s": round(statistics.median(ttfts), 3),
            "ttft_max_s": round(max(ttfts), 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bcvk", default="build/bcvk")
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--parallel", default="1,2,4")
    ap.add_argument("--clients", default="1,2,4,8")
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    print("| --parallel | clients | requests | tokens | wall s | aggregate tok/s | TTFT median s | TTFT max s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in [int(x) for x in a.parallel.split(",")]:
        proc, port = start(a.bcvk, a.model, p, a.ctx)
        try:
            one_request(port, "Warm up.", 2)  # pipelines compiled, caches warm
            for c in [int(x) for x in a.clients.split(",")]:
                print(f"parallel {p}, {c} client(s)...", file=sys.stderr, flush=True)
                row = {"parallel": p, **run(port, c, a.requests, a.max_tokens)}
                rows.append(row)
                print(f"| {p} | {c} | {row['requests']} | {row['completion_tokens']} | "
                      f"{row['wall_s']} | {row['aggregate_tokens_per_s']} | "
                      f"{row['ttft_median_s']} | {row['ttft_max_s']} |", flush=True)
        finally:
            proc.terminate()
            proc.wait(120)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"max_tokens": a.max_tokens, "requests_per_client": a.requests,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
