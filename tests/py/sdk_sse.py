"""Drive mcpd's 2024-11-05 HTTP+SSE transport with the official MCP Python SDK's SSE client.

Usage: python sdk_sse.py SSE_URL
Exits 0 and prints "ALL OK" when every step matched; otherwise prints "FAIL: ..." and exits 1.
"""

import sys
import traceback

import anyio
from mcp import ClientSession, types
from mcp.client.sse import sse_client
from pydantic import AnyUrl
from sdk_http import Mismatch, check, find, only_text

OVERALL_TIMEOUT_S = 45


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


async def main():
    url = sys.argv[1]
    try:
        with anyio.fail_after(OVERALL_TIMEOUT_S):
            await run(url)
    except BaseException as e:  # noqa: BLE001 - report anything, including exception groups
        mismatch = find(e, Mismatch)
        if mismatch is not None:
            print(f"FAIL: {mismatch}", flush=True)
            sys.exit(1)
        if isinstance(e, TimeoutError):
            print(f"FAIL: timed out after {OVERALL_TIMEOUT_S} s", flush=True)
        else:
            print(f"FAIL: exception {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    anyio.run(main)
