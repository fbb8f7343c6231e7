"""bcvk serve soak: 10,000 mixed requests over loopback, then the server must still answer, hold
no session, and have its RSS back within 5% of where it was after warm-up.

    soak_test.py BCVK_BINARY MODEL [REQUESTS]

The mix: greedy completions whose text is checked against the warm-up's, streams, bad JSON and
bad fields (400), unknown routes and methods (404/405), oversized chunked bodies (413),
malformed HTTP (400), clients that disconnect mid-request or mid-stream, /health and
/v1/models; and a few slowloris sockets open all along.  Every reply's status is checked.
"""
import http.client
import json
import random
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from serve_test import Server, SlowSockets, exchange

REQUESTS = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
GOOD = {"prompt": "Hi", "max_tokens": 1, "temperature": 0}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def health(port):
    status, data = request(port, "GET", "/health")
    assert status == 200, (status, data)
    return json.loads(data)


class Mix:
    def __init__(self, port, reference):
        self.port = port
        self.reference = reference
        self.counts = {}
        self.lock = threading.Lock()

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def one(self, i):
        rng = random.Random(i)
        r = rng.random()
        port = self.port
        if r < 0.03:
            status, data = request(port, "POST", "/v1/completions", json.dumps(GOOD))
            assert status in (200, 503), (status, data)
            if status == 200:
                assert json.loads(data)["choices"][0]["text"] == self.reference, data
            self.count(f"completion {status}")
        elif r < 0.04:  # a stream, read to its end
            body = json.dumps({**GOOD, "max_tokens": 2, "stream": True})
            status, data = request(port, "POST", "/v1/completions", body)
            assert status in (200, 503), (status, data)
            if status == 200:
                assert data.rstrip().endswith(b"data: [DONE]"), data
            self.count("stream")
        elif r < 0.06:  # a stream the client leaves after its first bytes
            body = json.dumps({**GOOD, "max_tokens": 8, "stream": True}).encode()
            with socket.create_connection(("127.0.0.1", port), timeout=120) as c:
                c.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                          str(len(body)).encode() + b"\r\n\r\n" + body)
                c.recv(64)
            self.count("stream abandoned")
        elif r < 0.08:  # a request cut off in its headers or body
            cut = rng.choice([b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le",
                              b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pr"])
            with socket.create_connection(("127.0.0.1", port), timeout=120) as c:
                c.sendall(cut)
            self.count("cut")
        elif r < 0.10:  # malformed HTTP
            data, want = rng.choice([(b"NONSENSE\r\n\r\n", "400"), (b"GET\r\n\r\n", "400"),
                                     (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", "414"),
                                     # httplib skips a header line without a colon
                                     (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "404")])
            head, _ = exchange(port, data)
            assert head.startswith("HTTP/1.1 " + want), (data[:40], head)
            self.count("malformed")
        elif r < 0.12:  # an oversized chunked body
            payload = b"x" * 70000
            chunks = b"".join(f"{len(payload[k:k + 8192]):x}\r\n".encode() + payload[k:k + 8192] +
                              b"\r\n" for k in range(0, len(payload), 8192)) + b"0\r\n\r\n"
            head, _ = exchange(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
            assert head.startswith("HTTP/1.1 413"), head
            self.count("413")
        elif r < 0.22:
            path = rng.choice(["/health", "/v1/models"])
            status, _ = request(port, "GET", path)
            assert status == 200, status
            self.count("get")
        elif r < 0.30:
            method, path, want = rng.choice([("GET", "/nope", 404), ("DELETE", "/v1/models", 405),
                                             ("POST", "/v1/engines", 404),
                                             ("GET", "/v1/completions", 405)])
            status, _ = request(port, method, path, "{}" if method == "POST" else None)
            assert status == want, (method, path, status)
            self.count(str(want))
        else:  # bad bodies
            body = rng.choice([
                '{"prompt": ', "[]", '{"prompt": "x", "max_tokens": 0}',
                '{"prompt": "x", "temperature": 1e309}', '{"prompt": "x", "top_p": 1e-300}',
                '{"prompt": "x", "tools": [1]}', '{"prompt": "x", "foo": 1}',
                '{"prompt": "x", "stop": 5}', '{"prompt": ""}', '{"messages": []}',
                '{"prompt": "\xff"}', '{"prompt": "x", "max_tokens": 99999999}',
            ])
            status, data = request(port, "POST", "/v1/completions", body.encode("latin-1"))
            assert status == 400, (body, status, data)
            assert json.loads(data)["error"]["message"], data
            self.count("400")


def main():
    server = Server("--parallel", "2", "--request-timeout", "2", "--max-connections", "64",
                    "--max-body", "65536")
    try:
        port = server.port
        ref_status, ref = request(port, "POST", "/v1/completions", json.dumps(GOOD))
        assert ref_status == 200, ref
        reference = json.loads(ref)["choices"][0]["text"]
        mix = Mix(port, reference)
        # Warm-up: every kind of request from as many threads, so the allocator's per-thread
        # arenas and the server's caches exist before the RSS baseline.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(mix.one, range(10 ** 6, 10 ** 6 + 1000)))
        time.sleep(2.5)  # cut requests reach their deadline
        rss0 = rss_kib(server.proc.pid)
        slow = SlowSockets(port, 4)
        t0 = time.time()
        done = [0]

        def one(i):
            mix.one(i)
            done[0] += 1
            if done[0] % 1000 == 0:
                print(f"soak: {done[0]}/{REQUESTS} requests, {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)

        with ThreadPoolExecutor(8) as pool:
            for f in [pool.submit(one, i) for i in range(REQUESTS)]:
                f.result()
        slow.close()
        elapsed = time.time() - t0
        time.sleep(3)  # cut and slow connections reach their deadline
        h = health(port)
        assert h["sessions_free"] == h["sessions"] == 2, h  # no session leaked
        assert h["requests_waiting"] == 0, h
        assert h["connections"] <= 2, h  # this /health's own connection only, and maybe one
        status, data = request(port, "POST", "/v1/completions", json.dumps(GOOD))
        assert status == 200 and json.loads(data)["choices"][0]["text"] == reference, data
        rss1 = rss_kib(server.proc.pid)
        growth = (rss1 - rss0) / rss0
        print(f"soak: {REQUESTS} requests in {elapsed:.0f} s; RSS {rss0 / 1024:.1f} -> "
              f"{rss1 / 1024:.1f} MiB ({100 * growth:+.2f}%); {dict(sorted(mix.counts.items()))}",
              file=sys.stderr)
        assert growth < 0.05, f"RSS grew {100 * growth:.2f}%"
    finally:
        rc = server.stop()
    assert rc == 0, f"bcvk serve exited {rc}:\n" + "\n".join(server.log[-20:])
    print("soak: passed", file=sys.stderr)


if __name__ == "__main__":
    main()
