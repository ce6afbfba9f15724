"""Keep the histories of Distributed Map children in moto's ASL interpreter (e2e only).

On AWS every child of a Distributed Map is an execution of its own, with a history
(ListExecutions --map-run-arn, GetExecutionHistory). moto 5.2.5 runs the children inside
the parent's interpreter with a throwaway EventManager (DistributedIterationComponent.
_eval_body: `env.event_manager = EventManager()`): no child executions, no child
history, so nothing shows which states inside a child were entered.

This module is imported by Python at start-up (it is a `sitecustomize` on PYTHONPATH,
which tests/tests/pipeline_e2e.rs sets for the stack it starts) and acts only inside the
moto server process, only when TRAINGUARD_E2E_MAP_RUN_CHILDREN names a file. It gives
each child (each item of a map run) an event history of its own, as AWS does, and appends
one JSON line per finished child to that file:

    {"map_run_arn": ..., "index": 0, "status": "SUCCEEDED" | "FAILED" | "ABORTED",
     "error": ..., "cause": ..., "events": [<GetExecutionHistory events>]}

The parent history carries `MapRunStarted.mapRunArn`, which links a Distributed Map
state to its children. Nothing else changes: what runs, its inputs, outputs, errors and
the parent's history are the engine's own. Documented in docs/pipeline.md ("Engine
limits worked around in the test copy only").
"""

import os
import sys


def _install(path):
    import json
    import threading

    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker_mod,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped

    worker = worker_mod.DistributedItemProcessorWorker
    original = worker._eval_job
    lock = threading.Lock()

    def _eval_job(self, env, job):
        # `env` is this job's own frame: a fresh history for the child, numbered from 1.
        env.event_manager = EventManager()
        env.event_history_context = EventHistoryContext.of_program_start()
        try:
            original(self, env, job)
        finally:
            state = env.program_state()
            line = {"map_run_arn": self._map_run_record.map_run_arn, "index": job.job_index,
                    "status": "SUCCEEDED", "error": None, "cause": None}
            if isinstance(state, ProgramError):
                line["status"] = "FAILED"
                err = state.error or {}
                line["error"], line["cause"] = err.get("error"), err.get("cause")
            elif isinstance(state, ProgramStopped):
                line["status"] = "ABORTED"
            line["events"] = env.event_manager.get_event_history()
            text = json.dumps(line, default=str)
            with lock, open(path, "a") as f:
                f.write(text + "\n")

    worker._eval_job = _eval_job


_path = os.environ.get("TRAINGUARD_E2E_MAP_RUN_CHILDREN")
if _path and os.path.basename(sys.argv[0] if sys.argv else "") == "moto_server":
    _install(_path)
