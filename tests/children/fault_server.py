"""A misbehaving stdio MCP server for the bridge's fault tests (no SDK: plain JSON lines).

Usage: python3 fault_server.py MODE
It answers `initialize`, `ping` and `tools/list` like a server would; MODE says how it fails:
  crash-mid-request   writes a traceback to stderr and exits 3 on tools/call
  crash-on-initialize writes an ImportError to stderr and exits 1 on initialize
  garbage             writes a non-JSON line before every answer
  long-line           answers tools/call with a 2 MiB line
  ignore-term         ignores SIGTERM and stdin's end, never answers tools/call (logs "holding tools/call")
  well                behaves (tools/call echoes its arguments)
  mute                never answers anything (not even initialize)
  silent-calls        never answers tools/call; logs each notifications/cancelled to stderr
"""

import json
import signal
import sys
import time

MODE = sys.argv[1]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def answer(request, result):
    if MODE == "garbage":
        sys.stdout.write("Server listening... (this line is not JSON)\n")
    send({"jsonrpc": "2.0", "id": request["id"], "result": result})


def main():
    if MODE == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"fault server starting in mode {MODE}", file=sys.stderr, flush=True)
    for line in sys.stdin:
        message = json.loads(line)
        method = message.get("method")
        if MODE == "mute":
            continue
        if MODE == "silent-calls" and method == "notifications/cancelled":
            print("cancelled: " + message["params"].get("reason", ""), file=sys.stderr, flush=True)
        if "id" not in message or method is None:
            continue
        if method == "initialize":
            if MODE == "crash-on-initialize":
                print("Traceback (most recent call last):", file=sys.stderr)
                print("ImportError: No module named 'missing_dependency'", file=sys.stderr, flush=True)
                sys.exit(1)
            answer(message, {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": f"fault-{MODE}", "version": "1"},
            })
        elif method == "tools/list":
            answer(message, {"tools": [{"name": "work", "inputSchema": {"type": "object"}}]})
        elif method == "tools/call":
            if MODE == "crash-mid-request":
                print("Traceback (most recent call last):", file=sys.stderr)
                print("RuntimeError: the tool crashed", file=sys.stderr, flush=True)
                sys.exit(3)
            if MODE == "flood":
                # 20 MB of non-JSON lines and 5,000 log notifications (under the 1 MiB outbound cap), as fast as the pipe
                # takes them, then the answer.
                junk = "x" * 199 + "\n"
                for _ in range(100_000):
                    sys.stdout.write(junk)
                note = {"jsonrpc": "2.0", "method": "notifications/message",
                        "params": {"level": "info", "data": "flood " + "y" * 64}}
                for _ in range(5_000):
                    send(note)
                answer(message, {"content": [{"type": "text", "text": "survived"}]})
                continue
            if MODE == "long-line":
                send({"jsonrpc": "2.0", "id": message["id"], "result": {"x": "y" * (2 << 20)}})
            elif MODE in ("ignore-term", "silent-calls"):
                if MODE == "ignore-term":
                    # A positive signal for the test: the call has reached the child.
                    print("holding tools/call", file=sys.stderr, flush=True)
                continue
            else:
                text = json.dumps(message["params"].get("arguments", {}))
                answer(message, {"content": [{"type": "text", "text": text}]})
        else:
            answer(message, {})
    if MODE == "ignore-term":
        while True:
            time.sleep(3600)


main()
