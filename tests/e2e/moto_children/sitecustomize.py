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
the parent's history are the engine's own.

It also makes the S3 ItemReader read every listing page, as AWS's does (moto's reads
the first 1,000 keys only; see `_page_item_reader`). Both are documented in docs/pipeline.md ("Engine
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


def _page_item_reader():
    """An S3 `listObjectsV2` ItemReader reads every listing page, as on AWS.

    AWS's ItemReader iterates over all the objects under the prefix; moto 5.2.5's
    (ResourceEvalS3._handle_list_objects_v2) makes one ListObjectsV2 call and maps over
    its `Contents`, so a Distributed Map over more than 1,000 objects (one page) would
    silently run the first 1,000 only. The same call, continued while the listing is
    truncated; nothing else changes.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as s3_mod,
    )

    reader = s3_mod.ResourceEvalS3

    def _handle_list_objects_v2(env, resource_runtime_part, state_credentials):
        s3_client = reader._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        parameters = env.stack.pop()
        contents = []
        while True:
            response = s3_client.list_objects_v2(**parameters)
            contents.extend(response["Contents"])
            if not response.get("IsTruncated"):
                break
            parameters = dict(parameters, ContinuationToken=response["NextContinuationToken"])
        env.stack.append(contents)

    reader._handle_list_objects_v2 = staticmethod(_handle_list_objects_v2)


_path = os.environ.get("TRAINGUARD_E2E_MAP_RUN_CHILDREN")
if _path and os.path.basename(sys.argv[0] if sys.argv else "") == "moto_server":
    _install(_path)
    _page_item_reader()
