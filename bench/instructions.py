#!/usr/bin/env python3
"""User-space instructions mcpd executes per `tools/call echo`, counted by callgrind.

Repeatable where wall-clock CPU time is not (a busy shared machine): the same binary and inputs
give the same count. Kernel time (epoll, read, write) is not counted; see benches/mcpd for that.
Runs mcpd under `valgrind --tool=callgrind` twice, with FEW and MANY calls over one keep-alive
session, and divides the difference by MANY - FEW, so startup and shutdown cancel out.

usage: bench/instructions.py MCPD [FEW MANY]
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile


def total_instructions(mcpd, calls, out_dir):
    out = os.path.join(out_dir, f"callgrind.{calls}")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", mcpd, "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in server.stderr:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        if port is None:
            sys.exit(f"instructions: {mcpd} under valgrind printed no listening line")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream"}

        def post(message):
            conn.request("POST", "/mcp", json.dumps(message), headers)
            answer = conn.getresponse()
            return answer, answer.read()

        answer, _ = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "instructions", "version": "1"}}})
        headers["Mcp-Session-Id"] = answer.headers["Mcp-Session-Id"]
        headers["MCP-Protocol-Version"] = "2025-06-18"
        post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        for seq in range(1, calls + 1):
            text = f"c000n{seq:09}"
            answer, body = post({"jsonrpc": "2.0", "id": seq, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {"message": text}}})
            if answer.status != 200 or f'"text":"{text}"'.encode() not in body:
                sys.exit(f"instructions: call {seq} answered {answer.status}: {body!r}")
        conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.stderr.read()
        server.wait()
    with open(out) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    sys.exit(f"instructions: no totals in {out}")


def main():
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__)
    mcpd = sys.argv[1]
    few, many = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) == 4 else (200, 2200)
    keep = os.environ.get("CALLGRIND_KEEP")
    with tempfile.TemporaryDirectory() as out_dir:
        out_dir = keep or out_dir
        low = total_instructions(mcpd, few, out_dir)
        high = total_instructions(mcpd, many, out_dir)
    print(round((high - low) / (many - few)))


if __name__ == "__main__":
    main()
