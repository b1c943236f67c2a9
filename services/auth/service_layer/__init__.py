"""The auth facade (``service.AuthService``): one method per RPC call, one unit of work per call."""
