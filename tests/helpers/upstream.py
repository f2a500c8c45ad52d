#!/usr/bin/env python3
"""An upstream HTTP server for the Spin trigger's outbound tests, on 127.0.0.1 only:
  GET /hello  answers "upstream says hi";
  GET /hold   counts itself in the file "held" of DIR, then waits until a file "release"
              exists there (at most 60 s) before it answers "released".
usage: upstream.py PORT DIR"""
import http.server
import os
import sys
import threading
import time

port = int(sys.argv[1])
os.chdir(sys.argv[2])
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, body):
        b = body.encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        if self.path == "/hold":
            with lock:
                n = int(open("held").read()) if os.path.exists("held") else 0
                with open("held.tmp", "w") as f:
                    f.write(str(n + 1))
                os.rename("held.tmp", "held")
            end = time.time() + 60
            while not os.path.exists("release") and time.time() < end:
                time.sleep(0.02)
            return self.answer("released")
        return self.answer("upstream says hi")


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
