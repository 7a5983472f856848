#!/usr/bin/env python3
"""A webhook receiver of the kind `recovery` replays a gap into.

It takes one event per POST /events, deduplicates on the Idempotency-Key
header (a repeat is answered 409, which the HTTP sink counts as "already
present"), appends each new event to a JSON-lines file, and answers
GET /events/<key> with 200 or 404, the presence check the job uses with
skip_already_present.

    python3 receiver.py PORT received.jsonl
"""
import http.server
import json
import sys
import threading
import urllib.parse


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self, port, path):
        super().__init__(("127.0.0.1", port), Handler)
        self.path = path
        self.lock = threading.Lock()
        self.keys = set()
        try:
            with open(path) as f:
                self.keys = {json.loads(line)["key"] for line in f if line.strip()}
        except FileNotFoundError:
            pass


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key", "")
        try:
            event = json.loads(body)
        except ValueError:
            return self.answer(400, {"error": "the body is not JSON"})
        if self.path != "/events" or not key:
            return self.answer(404 if self.path != "/events" else 400, {"error": "POST /events with an Idempotency-Key"})
        server = self.server
        with server.lock:
            if key in server.keys:
                return self.answer(409, {"error": "already processed", "key": key})
            server.keys.add(key)
            redelivered = self.headers.get("X-Recovery-Redelivery") == "true"
            with open(server.path, "a") as f:
                f.write(json.dumps({"key": key, "redelivered": redelivered, "event": event}) + "\n")
        self.answer(202, {"accepted": key})

    def do_GET(self):
        if not self.path.startswith("/events/"):
            return self.answer(404, {"error": "not found"})
        key = urllib.parse.unquote(self.path[len("/events/"):])
        with self.server.lock:
            held = key in self.server.keys
        self.answer(200 if held else 404, {"key": key})

    def answer(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    Receiver(int(sys.argv[1]), sys.argv[2]).serve_forever()
