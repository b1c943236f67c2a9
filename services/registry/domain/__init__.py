"""The registry's domain: pure decisions (command -> events) and the JSON shapes of its read model.
Imports only the standard library and ``services.kernel``."""
