"""Drive mcpd's 2024-11-05 HTTP+SSE transport with the official MCP Python SDK's SSE client.

Usage: python sdk_sse.py SSE_URL
Exits 0 and prints "ALL OK" when every step matched; otherwise prints "FAIL: ..." and exits 1.
"""

import sys

import anyio
from mcp import ClientSession, types
from mcp.client.sse import sse_client
from pydantic import AnyUrl
from sdk_http import check, only_text, report



async def run(url):
    progress = []

    async def on_progress(value, total, message):
        progress.append(value)

    async with sse_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(bool(init.serverInfo.name), f"initialize: serverInfo.name {init.serverInfo.name!r}")

            tools = (await session.list_tools()).tools
            names = [t.name for t in tools]
            check("echo" in names, f"list_tools: 'echo' listed (got {names})")

            text = only_text(await session.call_tool("echo", {"message": "over sse"}), "call_tool echo")
            check(text == "over sse", f"call_tool echo: text is exactly 'over sse' (got {text!r})")

            read_result = await session.read_resource(AnyUrl("test://static-text"))
            got = read_result.contents[0].text
            want = "This is the content of the static text resource."
            check(got == want, f"read_resource static-text: exact text (got {got!r})")

            result = await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            check(not result.isError, "call_tool test_tool_with_progress: not an error")
            check(progress == [0, 50, 100], f"progress callbacks 0, 50, 100 (got {progress})")


if __name__ == "__main__":
    anyio.run(report, run, sys.argv[1])
