"""A stdio MCP server (Python SDK 1.x FastMCP: handshake era only) whose one tool keeps
reporting progress while it waits for its client's sampling answer, for tests/ts_sdk.rs.

Usage: python ask_while_working.py   (MCP on stdin/stdout)

`ask_while_working`: progress 1/3; asks the client (`sampling/createMessage`, text "slow
question"); 0.2 s later, still waiting, progress 2/3; once answered, progress 3/3; returns
"answered: <the sampled text>".
"""

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent

mcp = FastMCP("ask-while-working")


@mcp.tool()
async def ask_while_working(ctx: Context) -> str:
    """Reports progress 1, 2, 3 of 3 around a sampling request; progress 2 while it waits."""
    await ctx.report_progress(1, 3)
    answer = {}

    async def ask():
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text="slow question"))],
            max_tokens=5,
        )
        answer["text"] = result.content.text

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        await anyio.sleep(0.2)
        await ctx.report_progress(2, 3)
    await ctx.report_progress(3, 3)
    return f"answered: {answer['text']}"


if __name__ == "__main__":
    mcp.run()
