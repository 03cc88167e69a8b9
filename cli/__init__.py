"""The command line and the MCP server: surfaces beside ``tui/`` that parse, call core, and present.

``entry`` is the ``flowtui`` script (the window without a command, click's commands otherwise);
``main`` holds the commands on jobs, ``watch``, ``telegram`` and ``mcp_command`` the groups loaded
when named, ``mcp_server`` the MCP tools, ``render``, ``logs`` and ``doctor`` what they print.
"""
