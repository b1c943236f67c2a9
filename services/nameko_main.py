"""``python -m services.nameko_main run ...``: nameko's own command line (what ``python -m nameko`` runs), minus
eventlet's deprecation banner. eventlet >= 0.40 warns on import that it is deprecated; nameko 2 needs it, an
operator can do nothing about it, and the multi-line text on stderr breaks the JSON log stream
(``WHARF_LOG_FORMAT=json``) of every service. ``wharf run`` starts services through this module."""
import warnings

from services import quiet_eventlet

quiet_eventlet(warnings)

import nameko.cli.main  # noqa: E402 - after the filter

if __name__ == "__main__":
    nameko.cli.main.main()
