"""The registry's service layer: the ``RegistryService`` facade and its unit-of-work discipline."""
