#!/usr/bin/env python3
"""The client side of a `kubectl exec` session, for the tests: connects to the URL that
the CRI's Exec handed out (containerd's streaming server) over WebSocket with the
v4.channel.k8s.io protocol, as the Kubernetes API server's exec proxy may. Every message
is one channel byte and its data: 0 stdin, 1 stdout, 2 stderr, 3 the session's status
(JSON, v4: {"status": "Success"} or a Failure whose causes carry the ExitCode).

usage: ws_exec.py URL [STDIN-TEXT]
  The exec's stdout and stderr are copied to ours; the exit status is the exec's exit code
  (as kubectl's), 125 when the session failed without one. STDIN-TEXT, when given, is
  sent on channel 0 (the exec must have been asked with stdin).
Only the Python standard library; the URL is expected on 127.0.0.1."""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def fail(msg):
    print(f"ws_exec: {msg}", file=sys.stderr)
    sys.exit(125)


def send_frame(sock, opcode, payload):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)  # a client masks every frame (RFC 6455, 5.3)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def read_frame(f):
    b0, b1 = read_exact(f, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(f, 8))[0]
    mask = read_exact(f, 4) if b1 & 0x80 else None
    data = read_exact(f, n)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return b0 & 0x0F, data


def main():
    if len(sys.argv) not in (2, 3):
        fail("usage: ws_exec.py URL [STDIN-TEXT]")
    url = urllib.parse.urlsplit(sys.argv[1])
    if url.scheme != "http" or not url.hostname:
        fail(f"not an http URL: {sys.argv[1]}")
    key = base64.b64encode(os.urandom(16)).decode()
    sock = socket.create_connection((url.hostname, url.port or 80), timeout=30)
    path = url.path + ("?" + url.query if url.query else "")
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n").encode())
    f = sock.makefile("rb")
    status = f.readline().decode("latin-1").strip()
    headers = {}
    while True:
        line = f.readline().decode("latin-1").strip()
        if not line:
            break
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if not status.startswith("HTTP/1.1 101"):
        fail(f"the streaming server did not upgrade: {status}")
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if headers.get("sec-websocket-accept") != want:
        fail("the streaming server's Sec-WebSocket-Accept is wrong")
    if headers.get("sec-websocket-protocol") != "v4.channel.k8s.io":
        fail(f"protocol not agreed: {headers.get('sec-websocket-protocol')}")
    if len(sys.argv) == 3:
        send_frame(sock, 0x2, b"\x00" + sys.argv[2].encode())
    code = None
    try:
        while True:
            op, data = read_frame(f)
            if op == 0x8:
                break
            if op == 0x9:
                send_frame(sock, 0xA, data)
                continue
            if op not in (0x1, 0x2) or not data:
                continue
            ch, body = data[0], data[1:]
            if ch == 1:
                sys.stdout.buffer.write(body)
                sys.stdout.flush()
            elif ch == 2:
                sys.stderr.buffer.write(body)
                sys.stderr.flush()
            elif ch == 3 and body:
                st = json.loads(body)
                if st.get("status") == "Success":
                    code = 0
                else:
                    for c in (st.get("details") or {}).get("causes") or []:
                        if c.get("reason") == "ExitCode":
                            code = int(c.get("message"))
                    if code is None:
                        print(f"ws_exec: {st.get('message', body.decode())}", file=sys.stderr)
    except (EOFError, ConnectionError):
        pass
    try:
        send_frame(sock, 0x8, struct.pack("!H", 1000))
    except OSError:
        pass
    sock.close()
    sys.exit(125 if code is None else code)


main()
