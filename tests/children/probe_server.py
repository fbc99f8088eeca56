"""A stdio MCP server that reports what it inherited (no SDK: plain JSON lines).

tools/call answers with one text item: JSON {"env": {...}, "fds": [open descriptors above 2]}.
Descriptors are probed with fstat, so the probe itself opens none.
"""

import json
import os
import sys


def open_fds():
    found = []
    for fd in range(3, 1024):
        try:
            os.fstat(fd)
        except OSError:
            continue
        found.append(fd)
    return found


for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message or "method" not in message:
        continue
    method = message["method"]
    if method == "initialize":
        result = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "probe", "version": "1"},
        }
    elif method == "tools/call":
        report = {"env": dict(os.environ), "fds": open_fds()}
        result = {"content": [{"type": "text", "text": json.dumps(report)}]}
    else:
        result = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
    sys.stdout.flush()
