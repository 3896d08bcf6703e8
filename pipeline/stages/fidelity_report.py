"""DVC stage ``fidelity_report``: the tracer checks of ``fidelity`` plus the Fig. 2 trends of the
CINR maps -> results/<city>/fidelity.json (see pipeline.stages.fidelity.build_report)."""

from __future__ import annotations

import sys

from pipeline.stages.fidelity import main_report as main

if __name__ == "__main__":
    sys.exit(main())
