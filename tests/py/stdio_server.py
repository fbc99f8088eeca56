"""A tiny stdio MCP server written with the official Python SDK (FastMCP), for the bridge tests.

Usage: python stdio_server.py   (speaks MCP on stdin/stdout; logs go to stderr)
"""

import anyio
from mcp.server.fastmcp import FastMCP

mcp = FastMCP("bridge-test-server")


@mcp.tool()
async def echo(text: str, delay_ms: int = 0) -> str:
    """Returns `text`, after `delay_ms` milliseconds."""
    if delay_ms:
        await anyio.sleep(delay_ms / 1000)
    return text


if __name__ == "__main__":
    mcp.run()
