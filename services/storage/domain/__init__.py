"""Storage domain: pure Python rules (upload policies, spooling with digests, package inspection).
Imports the stdlib, packaging, conda-package-streaming and services.kernel only."""
