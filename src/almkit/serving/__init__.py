"""almkit over the wire: the MCP server (``mcp.py``) and one HTTP app (``app.py``) with the OpenAI-compatible chat
routes (``openai_api.py``) and a collection's search API and page (``collection.py``, ``static/``)."""
