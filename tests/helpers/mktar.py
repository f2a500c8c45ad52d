#!/usr/bin/env python3
"""Writes a tar (gzip when OUT ends in .gz) of entries made by hand, as a hostile layer
would hold them: tar tools normalise names and link targets, this does not.
usage: mktar.py OUT ENTRY...   ENTRY is one of
  f:NAME[=TEXT]    a regular file       d:NAME          a folder
  s:NAME>TARGET    a symbolic link      h:NAME>TARGET   a hard link
  F:NAME=HOSTFILE  a regular file with a host file's bytes
  u:NAME[=TEXT]    a setuid file        g:NAME[=TEXT]   a setgid file
  p:NAME           a fifo               c:NAME          a character device (1,3)
  b:NAME           a block device (7,0)"""
import io
import sys
import tarfile

out, specs = sys.argv[1], sys.argv[2:]
with tarfile.open(out, "w:gz" if out.endswith(".gz") else "w", format=tarfile.PAX_FORMAT) as t:
    for spec in specs:
        kind, rest = spec[0], spec[2:]
        if kind in "sh":
            name, target = rest.split(">", 1)
        else:
            name, _, target = rest.partition("=")
        info = tarfile.TarInfo(name)
        info.mtime = 0
        data = b""
        if kind in "fug":
            data = target.encode()
            info.mode = {"f": 0o644, "u": 0o4755, "g": 0o2755}[kind]
        elif kind == "p":
            info.type, info.mode = tarfile.FIFOTYPE, 0o644
        elif kind in "cb":
            info.type, info.mode = (tarfile.CHRTYPE, 0o666) if kind == "c" else (tarfile.BLKTYPE, 0o660)
            info.devmajor, info.devminor = (1, 3) if kind == "c" else (7, 0)
        elif kind == "F":
            data = open(target, "rb").read()
            info.mode = 0o755
        elif kind == "d":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        elif kind == "s":
            info.type, info.linkname = tarfile.SYMTYPE, target
        elif kind == "h":
            info.type, info.linkname = tarfile.LNKTYPE, target
        info.size = len(data)
        t.addfile(info, io.BytesIO(data) if data else None)
