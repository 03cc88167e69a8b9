"""``flowtui mcp``: kept apart from the server so other commands never load the MCP SDK."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from core.errors import ConfigError

if TYPE_CHECKING:
    from cli.main import AppContext


@click.command("mcp")
@click.pass_obj
def mcp_command(app: AppContext) -> None:
    """Serve the Model Context Protocol on stdio, for Claude Code or any MCP client.

    Register it with: claude mcp add flowtui -- flowtui mcp
    """
    from cli.main import fail  # cli.main registers this command: import it late
    from core.extras import MCP, require

    require(MCP)  # else one line naming the extra, exit 2
    from cli.mcp_server import serve_stdio

    try:
        code = serve_stdio(app.settings, app.paths)
    except ConfigError as error:  # a queue backend that cannot be opened
        fail(str(error))
    sys.exit(code)
