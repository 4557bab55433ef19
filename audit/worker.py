"""Entry point of one training process under torchrun: `python -m audit.worker SPEC.json`.

The launching process wrote SPEC.json (the resolved config, device, data cache) into the run
directory; every rank trains its share, and rank 0 writes result.json there for the launcher, which
then writes the run record. Kept apart from the trainer so `trm` stays ignorant of the harness.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(spec_path: str) -> int:
    from audit.records import write_json_atomic
    from audit.runner import RESULT_NAME
    from trm.config import TrainConfig
    from trm.tracking import Tracking
    from trm.train import train

    spec_file = Path(spec_path)
    spec = json.loads(spec_file.read_text())
    config = TrainConfig.from_dict(spec["config"])
    data_cache = Path(spec["data_cache"]) if spec.get("data_cache") else None
    result = train(config, spec_file.parent, spec.get("device", "cpu"), data_cache=data_cache,
                   tracking=Tracking.from_dict(spec.get("tracking")))
    if int(os.environ.get("RANK", "0")) == 0:
        write_json_atomic(spec_file.parent / RESULT_NAME, result.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
