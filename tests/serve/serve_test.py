"""bcvk serve, driven by real clients: the official `openai` Python package and curl.

    serve_test.py BCVK_BINARY MODEL [TEST ...]

Checks: chat and completions, streaming and not, greedy text identical to `bcvk generate`,
8 concurrent clients matching sequential runs, every bad request's 4xx with an OpenAI-style
error object (and the next good request still served), API keys, a client that disconnects
mid-stream cancels its generation, and SIGTERM finishes in-flight work and exits 0.
"""
import http.client
import socket
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import openai

BCVK, MODEL = sys.argv[1], sys.argv[2]
KEY = "test-key-123"
CTX = 256


class Server:
    """bcvk serve on an ephemeral loopback port; its stderr log is collected."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [BCVK, "serve", "-m", MODEL, "--port", "0", "-c", str(CTX), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()
        if not ready.wait(180) or self.port is None:
            self.proc.kill()
            raise RuntimeError("bcvk serve did not start:\n" + "\n".join(self.log))

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def client(self, key=KEY):
        return openai.OpenAI(base_url=self.url("/v1"), api_key=key, max_retries=0, timeout=600)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        self.reader.join(10)
        return self.proc.returncode


def raw(server, method, path, body=None, headers=None):
    """One request with http.client: (status, parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    h = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read().decode()
    conn.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def bcvk_generate(prompt, n, chat):
    args = [BCVK, "generate", "-m", MODEL, "-p", prompt, "-n", str(n), "-c", str(CTX), "-q"]
    if chat:
        args.append("--chat")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    out = out[:-1] if out.endswith("\n") else out  # generate ends its text with a newline
    return out if chat else out[len(prompt):]  # without --chat it echoes the prompt


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--parallel", "2", "--api-key", KEY, "--max-body", "65536")

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        assert rc == 0, f"bcvk serve exited {rc}:\n" + "\n".join(cls.server.log)

    def test_health_and_models(self):
        status, body = raw(self.server, "GET", "/health", headers={"Authorization": ""})
        self.assertEqual((status, body), (200, {"status": "ok"}))
        models = self.server.client().models.list()
        self.assertEqual([m.id for m in models.data], [os.path.basename(MODEL)])

    def test_invalid_utf8_in_a_path_is_a_404_not_a_crash(self):
        # Issue 30, class 1: one unauthenticated GET whose percent-decoded path is not UTF-8
        # aborted the server (the 404's JSON could not be serialized).
        for path in ("/%FF", "/v1/%C3", "/%ED%A0%80x", "/%FE%FF%80%80"):
            with self.subTest(path):
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=60) as c:
                    c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                              "Connection: close\r\n\r\n".encode())
                    reply = b""
                    while chunk := c.recv(65536):
                        reply += chunk
                head, _, body = reply.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 404"), head)
                self.assertIn("no route GET", json.loads(body)["error"]["message"])
                status, _ = raw(self.server, "GET", "/health")
                self.assertEqual(status, 200)
        # The log shows the bytes escaped: valid text, no raw control or invalid bytes.
        deadline = time.time() + 10
        while not any("/\\xff" in line for line in self.server.log) and time.time() < deadline:
            time.sleep(0.1)
        self.assertTrue(any("GET /\\xff 404" in line for line in self.server.log),
                        self.server.log[-5:])

    def test_generation_cut_inside_a_character_still_answers(self):
        # Issue 30, class 2: max_tokens reached after the first byte of an emoji or a CJK
        # character made the reply unserializable (a 500, the text lost).  Every cut must answer.
        for prompt in ("Write three smiling face emojis: ", "用中文写一句问候："):
            for n in range(1, 5):
                with self.subTest(prompt=prompt, max_tokens=n):
                    body = {"prompt": prompt, "max_tokens": n, "temperature": 0}
                    status, reply = raw(self.server, "POST", "/v1/completions", json.dumps(body))
                    self.assertEqual(status, 200, reply)
                    self.assertIsInstance(reply["choices"][0]["text"], str)

    def test_chat_greedy_equals_bcvk_generate(self):
        prompt = "What is the capital of France?"
        r = self.server.client().chat.completions.create(
            model="x", messages=[{"role": "user", "content": prompt}], max_tokens=16,
            temperature=0)
        self.assertEqual(r.choices[0].message.content, bcvk_generate(prompt, 16, True))
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertIn(r.choices[0].finish_reason, ("stop", "length"))
        self.assertGreater(r.usage.prompt_tokens, 20)  # the template's system turn is in it
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)

    def test_completion_greedy_equals_bcvk_generate_and_streams_the_same(self):
        prompt = "The three primary colors are"
        c = self.server.client()
        r = c.completions.create(model="x", prompt=prompt, max_tokens=12, temperature=0)
        self.assertEqual(r.choices[0].text, bcvk_generate(prompt, 12, False))
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertEqual(r.usage.completion_tokens, 12)
        chunks = list(c.completions.create(model="x", prompt=prompt, max_tokens=12,
                                           temperature=0, stream=True))
        self.assertEqual("".join(ch.choices[0].text for ch in chunks), r.choices[0].text)
        self.assertGreaterEqual(len(chunks), 8)  # one chunk per token, not one at the end
        self.assertEqual(chunks[-1].choices[0].finish_reason, "length")

    def test_stop_strings_cut_the_text_before_them(self):
        c = self.server.client()
        prompt = "List three animals: cat, dog,"
        free = c.completions.create(model="x", prompt=prompt, max_tokens=16, temperature=0)
        text = free.choices[0].text
        stop = text.strip()[:2]  # a string the greedy text is known to contain
        self.assertTrue(stop)
        want = text[:text.index(stop)]
        r = c.completions.create(model="x", prompt=prompt, max_tokens=16, temperature=0,
                                 stop=[stop, "never-in-the-text"])
        self.assertEqual(r.choices[0].text, want)
        self.assertEqual(r.choices[0].finish_reason, "stop")
        chunks = list(c.completions.create(model="x", prompt=prompt, max_tokens=16,
                                           temperature=0, stop=stop, stream=True))
        self.assertEqual("".join(ch.choices[0].text for ch in chunks), want)

    def test_chat_stream_matches_non_stream_and_reports_usage(self):
        c = self.server.client()
        msgs = [{"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "Name a fruit."}]
        full = c.chat.completions.create(model="x", messages=msgs, max_tokens=10, temperature=0)
        stream = c.chat.completions.create(model="x", messages=msgs, max_tokens=10, temperature=0,
                                           stream=True, stream_options={"include_usage": True})
        text, finish, usage, n = "", None, None, 0
        for ch in stream:
            if ch.usage:
                usage = ch.usage
            for choice in ch.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
                n += 1
        self.assertEqual(text, full.choices[0].message.content)
        self.assertEqual(finish, full.choices[0].finish_reason)
        self.assertEqual(usage.completion_tokens, full.usage.completion_tokens)
        self.assertEqual(usage.prompt_tokens, full.usage.prompt_tokens)
        self.assertGreaterEqual(n, full.usage.completion_tokens)

    def test_curl_stream_is_server_sent_events(self):
        body = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
                           "temperature": 0, "stream": True})
        out = subprocess.run(
            ["curl", "-sN", "-H", f"Authorization: Bearer {KEY}", "-H",
             "Content-Type: application/json", "-d", body, self.server.url("/v1/chat/completions")],
            capture_output=True, text=True, check=True, timeout=600).stdout
        events = [e for e in out.split("\n\n") if e.strip()]
        self.assertTrue(all(e.startswith("data: ") for e in events), out)
        self.assertEqual(events[-1], "data: [DONE]")
        first = json.loads(events[0][6:])
        self.assertEqual(first["object"], "chat.completion.chunk")
        self.assertEqual(first["choices"][0]["delta"]["role"], "assistant")

    def test_api_key(self):
        with self.assertRaises(openai.AuthenticationError):
            self.server.client(key="wrong").models.list()
        status, body = raw(self.server, "POST", "/v1/completions",
                           json.dumps({"prompt": "a", "max_tokens": 1}),
                           headers={"Authorization": ""})
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["code"], "invalid_api_key")

    def test_bad_requests_get_4xx_and_the_server_keeps_serving(self):
        good = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "temperature": 0}
        cases = [
            ("malformed JSON", "/v1/chat/completions", '{"messages": [', 400, None),
            ("not an object", "/v1/chat/completions", "[1, 2]", 400, None),
            ("messages missing", "/v1/chat/completions", {"max_tokens": 2}, 400, "messages"),
            ("messages a string", "/v1/chat/completions", {"messages": "hi"}, 400, "messages"),
            ("unknown role", "/v1/chat/completions",
             {"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role"),
            ("content a number", "/v1/chat/completions",
             {"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
            ("max_tokens a string", "/v1/chat/completions", {**good, "max_tokens": "ten"}, 400,
             "max_tokens"),
            ("max_tokens zero", "/v1/chat/completions", {**good, "max_tokens": 0}, 400,
             "max_tokens"),
            ("temperature a string", "/v1/chat/completions", {**good, "temperature": "hot"}, 400,
             "temperature"),
            ("temperature too high", "/v1/chat/completions", {**good, "temperature": 9}, 400,
             "temperature"),
            ("top_p zero", "/v1/chat/completions", {**good, "top_p": 0}, 400, "top_p"),
            ("stream not a bool", "/v1/chat/completions", {**good, "stream": "yes"}, 400, "stream"),
            ("stop a number", "/v1/chat/completions", {**good, "stop": 3}, 400, "stop"),
            ("n = 2", "/v1/chat/completions", {**good, "n": 2}, 400, "n"),
            ("prompt missing", "/v1/completions", {"max_tokens": 2}, 400, "prompt"),
            ("empty prompt", "/v1/completions", {"prompt": ""}, 400, "prompt"),
            ("past the context", "/v1/chat/completions", {**good, "max_tokens": CTX}, 400,
             "max_tokens"),
            ("body too large", "/v1/completions",
             {"prompt": "x" * 70000, "max_tokens": 1}, 413, None),
            ("unknown route", "/v1/engines", {}, 404, None),
        ]
        for name, path, body, want, param in cases:
            with self.subTest(name):
                text = body if isinstance(body, str) else json.dumps(body)
                status, reply = raw(self.server, "POST", path, text)
                self.assertEqual(status, want, reply)
                self.assertIsInstance(reply, dict, reply)
                self.assertIn("message", reply["error"])
                self.assertTrue(reply["error"]["message"])
                if param:
                    self.assertEqual(reply["error"]["param"], param)
                status, reply = raw(self.server, "POST", "/v1/chat/completions", json.dumps(good))
                self.assertEqual(status, 200, reply)
        status, reply = raw(self.server, "POST", "/v1/chat/completions",
                            json.dumps({**good, "max_tokens": CTX}))
        self.assertEqual(reply["error"]["code"], "context_length_exceeded")
        # The openai client maps a 400 to BadRequestError.
        with self.assertRaises(openai.BadRequestError):
            self.server.client().chat.completions.create(
                model="x", messages=[{"role": "user", "content": "x"}], max_tokens=10 * CTX)

    def test_eight_concurrent_clients_match_sequential_runs(self):
        c = self.server.client()
        prompts = [f"Write one word that rhymes with {w}." for w in
                   ("cat", "tree", "blue", "car", "light", "rain", "stone", "ship")]

        def ask(p):
            r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}],
                                          max_tokens=8, temperature=0)
            return r.choices[0].message.content

        sequential = [ask(p) for p in prompts]
        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(ask, prompts))
        self.assertEqual(concurrent, sequential)
        self.assertGreater(len(set(sequential)), 1)

    def test_disconnect_mid_stream_cancels_and_frees_the_session(self):
        before = len(self.server.log)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=600)
        conn.request("POST", "/v1/completions", json.dumps(
            {"prompt": "Once upon a time", "max_tokens": 200, "temperature": 0, "stream": True}),
            {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        got = b""
        while got.count(b"data: ") < 3:
            got += r.read1(4096)
        conn.sock.close()  # the client goes away after three tokens
        conn.close()
        deadline = time.time() + 120
        line = None
        while time.time() < deadline and line is None:
            for l in self.server.log[before:]:
                if l.startswith("POST /v1/completions") and "completion=" in l:
                    line = l
            time.sleep(0.2)
        self.assertIsNotNone(line, "no log line for the cancelled request")
        done = int(re.search(r"completion=(\d+)", line).group(1))
        self.assertLess(done, 50, line)  # stopped long before max_tokens
        # Both sessions are free again: two requests at once are served.
        with ThreadPoolExecutor(2) as pool:
            rs = list(pool.map(lambda _: raw(self.server, "POST", "/v1/completions", json.dumps(
                {"prompt": "Hello", "max_tokens": 2, "temperature": 0}))[0], range(2)))
        self.assertEqual(rs, [200, 200])

    def test_log_has_one_line_per_request(self):
        time.sleep(0.5)  # earlier requests' lines have reached the reader
        before = len(self.server.log)
        raw(self.server, "POST", "/v1/completions",
            json.dumps({"prompt": "Hi", "max_tokens": 3, "temperature": 0}))
        pattern = (r"^POST /v1/completions 200 prompt=1 completion=3 "
                   r"ttft=\d+\.\d+s decode=\d+\.\d tok/s time=\d+\.\d+s$")
        deadline = time.time() + 10
        while time.time() < deadline:
            new = self.server.log[before:]
            if any(re.match(pattern, l) for l in new):
                break
            time.sleep(0.1)
        new = self.server.log[before:]
        self.assertEqual(sum(bool(re.match(pattern, l)) for l in new), 1, new)
        self.assertEqual(len(new), 1, new)  # the request logs once, nothing else logged


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_in_flight_requests_then_exits_0(self):
        # A grace longer than any generation here: in-flight work must finish, not be cut.
        server = Server("--parallel", "1", "--shutdown-grace", "300")
        result = {}

        def ask():
            result["status"], result["body"] = raw(server, "POST", "/v1/completions", json.dumps(
                {"prompt": "Count: one, two,", "max_tokens": 12, "temperature": 0}))

        t = threading.Thread(target=ask)
        t.start()
        time.sleep(2)  # the request is in flight
        t0 = time.time()
        server.proc.send_signal(signal.SIGTERM)
        rc = server.proc.wait(120)
        t.join(10)
        self.assertEqual(rc, 0, "\n".join(server.log))
        self.assertEqual(result.get("status"), 200, result)
        self.assertEqual(result["body"]["usage"]["completion_tokens"], 12)
        self.assertLess(time.time() - t0, 300)
        self.assertTrue(any("SIGTERM" in l for l in server.log))
        self.assertEqual(server.log[-1], "bcvk serve: stopped")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v", *sys.argv[3:]])
