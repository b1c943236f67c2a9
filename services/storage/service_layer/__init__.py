"""Storage service layer: the ``StorageService`` facade."""
