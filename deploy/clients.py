"""Clients for deploy/check.sh: the official MCP Python SDK (1.x client API) and plain httpx
against several mcpd instances behind a balancer.

  python clients.py load URL N HEALTH_URL...   N clients (half legacy HTTP+SSE, half Streamable
                                               HTTP "auto"): all initialize, the sessions must
                                               spread over every instance (each one's /health
                                               counts them), then each makes calls
  python clients.py chaos URL N SIGNAL PID ID  N clients call in a loop; after a while PID (the
                                               instance whose --instance-id is ID) gets SIGNAL
                                               (KILL or TERM); a client whose session is lost
                                               re-initializes and retries its call
  python clients.py sse URL                    a legacy GET /sse stream and a standalone
                                               Streamable HTTP GET stream through the balancer:
                                               heartbeats and a notification arrive

Each prints `FIGURES {json}` and exits 0 only when its checks hold ("ALL OK" printed last).
Every wait is bounded.
"""

import contextlib
import json
import os
import signal
import sys
import time
import uuid

import anyio
import httpx
from mcp import ClientSession, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

CALL_TIMEOUT_S = 15
OVERALL_TIMEOUT_S = 240


def legacy_url(url):
    return url.rsplit("/", 1)[0] + "/sse"


def instance_of(session_id):
    return (session_id or "?").split("-", 1)[0]


class Client:
    """One SDK client that can lose its session and start a new one."""

    def __init__(self, index, url):
        self.index = index
        self.mode = "legacy" if index % 2 == 0 else "auto"
        self.url = url
        self.session_ids = []
        self.calls = 0
        self.first_try_failures = []
        self.errors = []

    @property
    def instance(self):
        return instance_of(self.session_ids[-1] if self.session_ids else None)

    async def open(self, stack):
        """Connects and initializes inside `stack`; returns the ClientSession."""
        if self.mode == "legacy":
            box = {}
            read, write = await stack.enter_async_context(
                sse_client(
                    legacy_url(self.url),
                    timeout=10,
                    on_session_created=lambda sid: box.setdefault("id", sid),
                )
            )
            session = await stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(CALL_TIMEOUT_S):
                await session.initialize()
            self.session_ids.append(box.get("id"))
        else:
            read, write, get_id = await stack.enter_async_context(streamable_http_client(self.url))
            session = await stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(CALL_TIMEOUT_S):
                await session.initialize()
            self.session_ids.append(get_id())
        return session

    async def call(self, session):
        message = f"client {self.index} call {self.calls} {uuid.uuid4()}"
        with anyio.fail_after(CALL_TIMEOUT_S):
            result = await session.call_tool("echo", {"message": message})
        got = [c.text for c in result.content if isinstance(c, types.TextContent)]
        if result.isError or got != [message]:
            raise AssertionError(f"echo answered {result!r}")
        self.calls += 1


def describe(error):
    """A short kind for an exception (groups unwrapped)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error)
    if "Session terminated" in text or "404" in text:
        return "session-ended(404)"
    return f"{type(error).__name__}: {text[:120]}"


async def run_client(client, calls, stop, ready, started_calls):
    """Calls until `calls` are done (or `stop` is set); a lost session is re-initialized once
    per failure and the failed call retried in the new session."""
    retrying = False
    while True:
        try:
            async with contextlib.AsyncExitStack() as stack:
                session = await client.open(stack)
                client_ready(ready, client)
                await started_calls.wait()
                while not stop.is_set() and (calls is None or client.calls < calls):
                    await client.call(session)
                    retrying = False
                    await anyio.sleep(0.02)
                return
        except Exception as error:  # noqa: BLE001 - every failure is recorded
            kind = describe(error)
            if retrying:
                client.errors.append(kind)
                return
            client.first_try_failures.append((client.instance, kind))
            retrying = True


_ready_count = {"n": 0, "want": 0}


def client_ready(ready, client):
    if getattr(client, "_counted", False):
        return
    client._counted = True
    _ready_count["n"] += 1
    if _ready_count["n"] >= _ready_count["want"]:
        ready.set()


def health(url):
    return httpx.get(url, timeout=5).json()


async def load(url, n, health_urls):
    clients = [Client(i, url) for i in range(n)]
    ready, started, stop = anyio.Event(), anyio.Event(), anyio.Event()
    _ready_count["want"] = n
    spread = {}
    async with anyio.create_task_group() as tg:
        for c in clients:
            tg.start_soon(run_client, c, 10, stop, ready, started)
        with anyio.fail_after(60):
            await ready.wait()
        for h in health_urls:
            spread[h] = health(h)["active_sessions"]
        started.set()
    per_instance = {}
    for c in clients:
        per_instance[c.instance] = per_instance.get(c.instance, 0) + 1
    figures = {
        "clients": n,
        "legacy": sum(c.mode == "legacy" for c in clients),
        "auto": sum(c.mode == "auto" for c in clients),
        "calls": sum(c.calls for c in clients),
        "errors": sum(len(c.errors) + len(c.first_try_failures) for c in clients),
        "sessions_by_instance_health": list(spread.values()),
        "clients_by_session_prefix": per_instance,
    }
    print("FIGURES " + json.dumps(figures), flush=True)
    failures = [f for c in clients for f in c.first_try_failures + [(c.instance, e) for e in c.errors]]
    ok = True
    if failures:
        print(f"FAIL: client errors: {failures[:5]}")
        ok = False
    if figures["calls"] != 10 * n:
        print(f"FAIL: {figures['calls']} calls of {10 * n}")
        ok = False
    if any(v < 1 for v in spread.values()):
        print(f"FAIL: sessions did not spread over every instance: {spread}")
        ok = False
    return ok


async def chaos(url, n, sig, pid, victim):
    clients = [Client(i, url) for i in range(n)]
    ready, started, stop = anyio.Event(), anyio.Event(), anyio.Event()
    _ready_count["want"] = n
    figures = {}
    async with anyio.create_task_group() as tg:
        for c in clients:
            tg.start_soon(run_client, c, None, stop, ready, started)
        with anyio.fail_after(60):
            await ready.wait()
        on_victim = [c for c in clients if c.instance == victim]
        started.set()
        await anyio.sleep(1.5)
        calls_before = sum(c.calls for c in clients)
        os.kill(pid, signal.SIGKILL if sig == "KILL" else signal.SIGTERM)
        signalled = time.monotonic()
        # Until the victim is gone, then long enough for every client to call again.
        while time.monotonic() - signalled < 10:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await anyio.sleep(0.05)
        await anyio.sleep(3)
        stop.set()
    calls_after = sum(c.calls for c in clients) - calls_before
    affected = [c for c in clients if c in on_victim]
    others = [c for c in clients if c not in on_victim]
    figures = {
        "signal": sig,
        "victim": victim,
        "clients": n,
        "clients_on_victim": len(affected),
        "calls": sum(c.calls for c in clients),
        "calls_after_signal": calls_after,
        "errors": sum(len(c.errors) for c in clients),
        "reinitialized": sum(len(c.first_try_failures) for c in clients),
        "first_try_failures_by_kind": {},
        "failures_on_other_instances": sum(len(c.first_try_failures) for c in others),
    }
    for c in clients:
        for _, kind in c.first_try_failures:
            figures["first_try_failures_by_kind"][kind] = figures["first_try_failures_by_kind"].get(kind, 0) + 1
    print("FIGURES " + json.dumps(figures), flush=True)
    ok = True
    if not affected:
        print(f"FAIL: no client had its session on {victim}")
        ok = False
    if figures["errors"]:
        print(f"FAIL: calls failed even after re-initializing: {[c.errors for c in clients if c.errors][:5]}")
        ok = False
    if figures["failures_on_other_instances"]:
        print(f"FAIL: clients on live instances saw errors: {[c.first_try_failures for c in others if c.first_try_failures][:5]}")
        ok = False
    moved = [c for c in affected if c.instance == victim]
    if moved:
        print(f"FAIL: {len(moved)} client(s) still on {victim} after it stopped")
        ok = False
    if sig == "KILL" and not any(k == "session-ended(404)" for c in affected for _, k in c.first_try_failures if c.mode == "auto"):
        print("FAIL: no Streamable HTTP client on the killed instance saw a 404")
        ok = False
    stuck = [c.index for c in clients if c.calls == 0]
    if stuck:
        print(f"FAIL: clients made no call: {stuck}")
        ok = False
    return ok


async def sse(url):
    """Heartbeats and a notification on a legacy GET /sse stream; heartbeats on a standalone
    Streamable HTTP GET stream."""
    got = {"heartbeats": 0, "notification": False, "answer": False, "standalone_heartbeats": 0}
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=20)) as client:
        async with client.stream("GET", legacy_url(url), headers={"Accept": "text/event-stream"}) as stream:
            if stream.status_code != 200:
                print(f"FAIL: GET /sse: {stream.status_code}")
                return False
            endpoint = None
            event = None
            with anyio.fail_after(30):
                async for line in stream.aiter_lines():
                    if line.startswith(":"):
                        got["heartbeats"] += 1
                    elif line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data = line.split(":", 1)[1].strip()
                        if event == "endpoint":
                            endpoint = str(httpx.URL(url).join(data))
                            await send_legacy(client, endpoint)
                        else:
                            msg = json.loads(data)
                            if msg.get("method") == "notifications/message":
                                got["notification"] = True
                            if msg.get("id") == 3:
                                got["answer"] = True
                    if got["answer"] and got["notification"] and got["heartbeats"] >= 2:
                        break
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "check", "version": "1"}}}
        r = await client.post(url, json=init, headers=headers)
        sid = r.headers.get("mcp-session-id")
        headers.update({"Mcp-Session-Id": sid or "", "MCP-Protocol-Version": "2025-11-25"})
        await client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
        async with client.stream("GET", url, headers={**headers, "Accept": "text/event-stream"}) as stream:
            with anyio.fail_after(30):
                async for line in stream.aiter_lines():
                    if line.startswith(":"):
                        got["standalone_heartbeats"] += 1
                        if got["standalone_heartbeats"] >= 2:
                            break
    print("FIGURES " + json.dumps(got), flush=True)
    ok = got["heartbeats"] >= 2 and got["notification"] and got["answer"] and got["standalone_heartbeats"] >= 2
    if not ok:
        print(f"FAIL: SSE through the balancer: {got}")
    return ok


async def send_legacy(client, endpoint):
    async def post(message):
        r = await client.post(endpoint, json=message)
        if r.status_code != 202:
            raise AssertionError(f"POST {endpoint}: {r.status_code} {r.text}")

    await post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "check", "version": "1"}}})
    await post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    await post({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "debug"}})
    await post({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "test_tool_with_logging", "arguments": {}}})


def main():
    kind, url = sys.argv[1], sys.argv[2]
    checks = {
        "load": lambda: load(url, int(sys.argv[3]), sys.argv[4:]),
        "chaos": lambda: chaos(url, int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]),
        "sse": lambda: sse(url),
    }
    if kind not in checks:
        raise SystemExit(f"unknown check {kind}")

    async def bounded():
        with anyio.fail_after(OVERALL_TIMEOUT_S):
            return await checks[kind]()

    try:
        ok = anyio.run(bounded)
    except Exception as error:  # noqa: BLE001
        print(f"FAIL: {kind}: {describe(error)}")
        ok = False
    if ok:
        print("ALL OK")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
