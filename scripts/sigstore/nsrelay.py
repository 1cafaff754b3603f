#!/usr/bin/env python3
"""Forward TCP ports from this network namespace into another one (Python stdlib, Linux).

  nsrelay.py --netns /proc/PID/ns/net [--host 127.0.0.1] [--name TEXT] PORT [PORT...]

Listens on HOST:PORT here for each PORT, then joins the target network namespace (setns(2)
through libc) and forwards every connection to 127.0.0.1:PORT there. The loopback Sigstore
runs in a namespace of its own because the timestamp authority and Fulcio always open metrics
listeners on all interfaces (the TSA on a fixed :2112) and Fulcio a fixed abstract unix socket;
only the ports named here reach the host, and only on HOST.
"""
import argparse
import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def handler(port: int):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            sys.stderr.write(f"nsrelay: connect 127.0.0.1:{port} in the namespace: {e}\n")
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return handle


async def serve(socks):
    servers = [await asyncio.start_server(handler(port), sock=s) for port, s in socks]
    sys.stderr.write("nsrelay: forwarding %s\n" % ", ".join(str(p) for p, _ in socks))
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netns", required=True, help="path of the target namespace, e.g. /proc/PID/ns/net")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="", help="free text (its caller's state path, for pid checks)")
    ap.add_argument("ports", nargs="+", type=int)
    a = ap.parse_args()
    socks = []
    for port in a.ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.host, port))
        s.listen(128)
        s.setblocking(False)
        socks.append((port, s))
    # Sockets made from here on (the upstream connections) belong to the target namespace;
    # the listeners bound above stay in this one.
    fd = os.open(a.netns, os.O_RDONLY)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        sys.exit(f"nsrelay: setns({a.netns}): {os.strerror(err)}")
    os.close(fd)
    asyncio.run(serve(socks))


if __name__ == "__main__":
    main()
