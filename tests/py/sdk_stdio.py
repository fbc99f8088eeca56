"""Drive `mcpd --stdio` with the official MCP Python SDK's stdio client (1.x client API).

Usage: python sdk_stdio.py MCPD_BINARY STDERR_LOG
The SDK starts MCPD_BINARY --stdio itself (and stops it on exit); its stderr goes to STDERR_LOG.
Exits 0 and prints "ALL OK" when every step matched; otherwise prints "FAIL: ..." and exits 1.
"""

import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS
from sdk_http import check, only_text, report



async def run(binary, errlog):
    params = StdioServerParameters(command=binary, args=["--stdio"])
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(
                init.protocolVersion in SUPPORTED_PROTOCOL_VERSIONS,
                f"initialize: protocolVersion {init.protocolVersion!r} is one the SDK supports",
            )
            check(bool(init.serverInfo.name), f"initialize: serverInfo.name {init.serverInfo.name!r}")

            tools = (await session.list_tools()).tools
            names = [t.name for t in tools]
            check("echo" in names, f"list_tools: 'echo' listed (got {names})")
            undescribed = [t.name for t in tools if not t.description]
            check(not undescribed, f"list_tools: every tool has a description (missing: {undescribed})")

            text = only_text(await session.call_tool("echo", {"message": "hi"}), "call_tool echo")
            check(text == "hi", f"call_tool echo: text is exactly 'hi' (got {text!r})")


async def with_errlog(binary, errlog_path):
    with open(errlog_path, "w") as errlog:
        await run(binary, errlog)


if __name__ == "__main__":
    anyio.run(report, with_errlog, sys.argv[1], sys.argv[2])
