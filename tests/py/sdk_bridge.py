"""Drive a Python SDK stdio server bridged by mcpd with the Python SDK's HTTP client.

Usage: python sdk_bridge.py URL SESSIONS CALLS
Lists tools and calls `echo` once, then opens SESSIONS sessions at once, each making CALLS
concurrent `echo` calls with arguments no other session uses, and checks every session gets
exactly its own answers. Exits 0 and prints "ALL OK" when every step matched; otherwise prints
"FAIL: ..." and exits 1.
"""

import sys

import anyio
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from sdk_http import check, only_text, report



async def first_steps(url):
    async with streamable_http_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(
                init.serverInfo.name == "bridge-test-server",
                f"initialize: the child's own serverInfo (got {init.serverInfo.name!r})",
            )
            tools = await session.list_tools()
            names = [t.name for t in tools.tools]
            check(names == ["echo"], f"tools/list: the child's tools (got {names!r})")
            result = await session.call_tool("echo", {"text": "hello through mcpd"})
            got = only_text(result, "tools/call echo")
            check(got == "hello through mcpd", f"tools/call echo: the text back (got {got!r})")


async def one_session(url, n, calls, answers):
    async with streamable_http_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            got = {}

            async def call(i):
                text = f"session-{n}-call-{i}"
                result = await session.call_tool("echo", {"text": text, "delay_ms": (i * 7) % 30})
                got[text] = only_text(result, f"session {n} call {i}")

            async with anyio.create_task_group() as tg:
                for i in range(calls):
                    tg.start_soon(call, i)
            answers[n] = got


async def run(url, sessions, calls):
    await first_steps(url)
    answers = {}
    async with anyio.create_task_group() as tg:
        for n in range(sessions):
            tg.start_soon(one_session, url, n, calls, answers)
    for n in range(sessions):
        got = answers.get(n, {})
        wrong = {k: v for k, v in got.items() if k != v}
        check(
            len(got) == calls and not wrong,
            f"session {n}: {calls} answers, each its own (got {len(got)}, wrong {wrong!r})",
        )


if __name__ == "__main__":
    anyio.run(report, run, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
