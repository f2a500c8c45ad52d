#!/usr/bin/env python3
"""A registry with the OCI 1.1 referrers API, for the tests: Debian's Distribution 2.8 has
none, so this stands in front of one (UPSTREAM) and adds what 1.1 registries do:
  PUT /v2/<name>/manifests/<ref> of a manifest with a subject: recorded, and answered with
      the OCI-Subject header;
  GET /v2/<name>/referrers/<digest>[?artifactType=T]: an image index of what was recorded
      for digest (OCI-Filters-Applied: artifactType when filtered).
Everything else goes to UPSTREAM as it came (Host kept, so its Location headers point
back here). While a file named "hold" exists in the current folder, a referrers request
waits (at most 60 s) until it is gone, having made a file "held": a hostile registry
stalling its answer, so a test can change things meanwhile. usage: referrers_proxy.py PORT UPSTREAM-PORT; listens on 127.0.0.1 only."""
import hashlib
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

port, upstream = int(sys.argv[1]), int(sys.argv[2])
recorded = {}  # (name, subject digest) -> {digest: descriptor}
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_body(self, code, headers, body, length=None):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        # a HEAD answers with the length a GET would have
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body):
        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        self.upstream_length = r.getheader("Content-Length")
        hdrs = [(k, v) for k, v in r.getheaders() if k.lower() not in ("content-length", "connection", "transfer-encoding")]
        c.close()
        return r.status, hdrs, data

    def referrers(self, name, digest, query):
        want = urllib.parse.parse_qs(query).get("artifactType", [None])[0]
        with lock:
            found = list(recorded.get((name, digest), {}).values())
        if want:
            found = [d for d in found if d.get("artifactType") == want]
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": found}
        headers = [("Content-Type", "application/vnd.oci.image.index.v1+json")]
        if want:
            headers.append(("OCI-Filters-Applied", "artifactType"))
        self.send_body(200, headers, json.dumps(index).encode())

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else (b"" if self.command in ("PUT", "POST", "PATCH") else None)
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        if self.command == "GET" and "referrers" in parts and parts.index("referrers") == len(parts) - 2:
            i = parts.index("referrers")
            if os.path.exists("hold"):
                open("held", "w").close()
                for _ in range(600):
                    if not os.path.exists("hold"):
                        break
                    time.sleep(0.1)
            return self.referrers("/".join(parts[2:i]), parts[i + 1], url.query)
        code, headers, data = self.forward(body)
        if self.command == "PUT" and "manifests" in parts and 200 <= code < 300 and body:
            try:
                m = json.loads(body)
            except ValueError:
                m = {}
            subject = (m.get("subject") or {}).get("digest")
            if subject:
                i = parts.index("manifests")
                desc = {"mediaType": m.get("mediaType", self.headers.get("Content-Type")),
                        "digest": "sha256:" + hashlib.sha256(body).hexdigest(), "size": len(body)}
                t = m.get("artifactType") or (m.get("config") or {}).get("mediaType")
                if t:
                    desc["artifactType"] = t
                if m.get("annotations"):
                    desc["annotations"] = m["annotations"]
                with lock:
                    recorded.setdefault(("/".join(parts[2:i]), subject), {})[desc["digest"]] = desc
                headers.append(("OCI-Subject", subject))
        self.send_body(code, headers, data, self.upstream_length if self.command == "HEAD" else None)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
