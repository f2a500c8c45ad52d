#!/usr/bin/env python3
"""A registry that hands its uploads to another place, to see whether the client's
credentials follow (issue 22, 3). usage: upload_thief.py PORT THIEF-PORT
  PORT (127.0.0.1): a registry that wants credentials (Basic alice:s3cret, or a bearer
  token from its /token realm for repositories named bearer-*); HEAD of a blob is 404,
  and the upload POST answers 202 with an absolute Location chosen by the repository's
  name: port-* -> http://127.0.0.1:THIEF-PORT/..., host-* -> http://localhost:PORT/...
  (another host name for the same listener), same-* -> http://127.0.0.1:PORT/... (the
  registry itself), steal-* -> THIEF-PORT, which answers the upload with a 401 whose
  Bearer realm is its own /steal (where a client would send its credentials for a token).
  PATCH and PUT anywhere else complete the upload; the manifest PUT is 201.
  THIEF-PORT (127.0.0.1): answers uploads the same way.
Every request goes to requests.log (cwd) as "LISTENER METHOD PATH AUTH", AUTH the scheme of
its Authorization header or "-". Stops when killed."""
import base64
import json
import http.server
import sys
import threading

port, thief = int(sys.argv[1]), int(sys.argv[2])
BASIC = "Basic " + base64.b64encode(b"alice:s3cret").decode()
TOKEN = "Bearer t0ken-of-alice"
lock = threading.Lock()


def make(listener):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def record(self):
            auth = self.headers.get("Authorization")
            with lock:
                open("requests.log", "a").write(
                    f"{listener} {self.command} {self.path} {auth.split(' ')[0] if auth else '-'}\n")

        def answer(self, code, headers=(), body=b""):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def drain(self):
            n = int(self.headers.get("Content-Length") or 0)
            while n > 0:
                got = self.rfile.read(min(n, 65536))
                if not got:
                    break
                n -= len(got)

        def authorised(self, repo):
            auth = self.headers.get("Authorization")
            if repo.startswith("bearer-"):
                if auth == TOKEN:
                    return True
                self.answer(401, [("WWW-Authenticate",
                                   f'Bearer realm="http://127.0.0.1:{port}/token",service="thief",'
                                   f'scope="repository:{repo}:pull,push"')])
                return False
            if auth == BASIC:
                return True
            self.answer(401, [("WWW-Authenticate", 'Basic realm="thief"')])
            return False

        def handle_any(self):
            self.record()
            self.drain()
            path = self.path.split("?")[0]
            parts = path.split("/")
            if path == "/token":
                if self.headers.get("Authorization") != BASIC:
                    return self.answer(401, [("WWW-Authenticate", 'Basic realm="thief"')])
                body = json.dumps({"token": TOKEN.split(" ")[1], "expires_in": 300}).encode()
                return self.answer(200, [("Content-Type", "application/json")], body)
            if path == "/steal":
                return self.answer(401)
            if path.startswith("/upload/steal-") and listener == "thief":
                return self.answer(401, [("WWW-Authenticate", f'Bearer realm="http://127.0.0.1:{thief}/steal",service="x"')])
            if path.startswith("/upload/"):
                if self.command == "PUT":
                    return self.answer(201, [("Docker-Content-Digest", self.path.split("digest=")[-1])])
                return self.answer(202, [("Location", self.path.split("?")[0]), ("Range", "0-0")])
            if listener != "registry":
                return self.answer(404)
            if path == "/v2/":
                return self.answer(200) if self.headers.get("Authorization") else self.answer(
                    401, [("WWW-Authenticate", 'Basic realm="thief"')])
            repo = parts[2] if len(parts) > 2 else ""
            if not self.authorised(repo):
                return
            if "/blobs/uploads/" in path and self.command == "POST":
                to = {"port": f"http://127.0.0.1:{thief}", "host": f"http://localhost:{port}",
                      "same": f"http://127.0.0.1:{port}", "steal": f"http://127.0.0.1:{thief}"}[repo.split("-")[-1] if repo.startswith("bearer-") else repo.split("-")[0]]
                return self.answer(202, [("Location", f"{to}/upload/{repo}/1"), ("Range", "0-0")])
            if "/blobs/" in path:
                return self.answer(404)
            if "/manifests/" in path and self.command == "PUT":
                return self.answer(201)
            return self.answer(404)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = handle_any
    return H


servers = [http.server.ThreadingHTTPServer(("127.0.0.1", p), make(n)) for p, n in ((port, "registry"), (thief, "thief"))]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
