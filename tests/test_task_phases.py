"""The executor benchmark's breakdown of a task's seconds, on the lines a distributed ``download`` task logged."""

from benchmarks.task_phases import PHASES, covered_seconds, phases_of_task

# (seconds after the task's start, message) as the download task of a make-cluster run logged them
DOWNLOAD_TASK = [
    (0.1, "::group::Pre Execute"),
    (0.8, "DAG bundles loaded: dags-folder"),
    (2.0, "Worker startup parse complete"),
    (7.0, "Running stage 'local_files':"),
    (7.0, "> python -m pipelines.stages.local_files --out data/local_files.json"),
    (8.9, "[local_files] done in 0.0s"),
    (9.6, ""),
    (10.0, "Running stage 'download':"),
    (12.4, "[download] done in 0.3s"),
    (13.3, "Updating lock file 'dvc.lock'"),
    (13.5, "Use `dvc push` to send your updates to remote storage."),
    (18.8, "7 files pushed"),
    (22.2, "Done. Returned value was: None"),
]


def test_a_task_is_cut_into_start_up_restores_its_stage_other_stages_and_push():
    spent = {
        phase: round(seconds, 6) for phase, seconds in phases_of_task("download", 0.0, 22.3, DOWNLOAD_TASK).items()
    }
    assert spent == {
        "task start-up": 2.0,
        "workspace, DVC start-up and restores": 5.0,
        "the task's own stage": 3.3,
        "other stages run again": 3.0,
        "lock, push, task end": 9.0,
    }
    assert round(sum(spent.values()), 6) == 22.3
    assert set(spent) == set(PHASES) - {"between tasks"}


def test_restores_between_two_stages_that_ran_count_as_restores():
    events = [
        (1.0, "Worker startup parse complete"),
        (2.0, "Running stage 'local_files':"),
        (3.0, "Stage 'download' is cached - skipping run, checking out outputs"),
        (7.0, "Running stage 'tokenize':"),
        (9.0, "Updating lock file 'dvc.lock'"),
    ]
    spent = phases_of_task("tokenize", 0.0, 10.0, events)
    assert spent["workspace, DVC start-up and restores"] == 1.0 + 4.0
    assert spent["other stages run again"] == 1.0
    assert spent["the task's own stage"] == 2.0
    assert spent["lock, push, task end"] == 1.0


def test_a_task_that_runs_no_stage_is_start_up_and_workspace():
    events = [(3.0, "Worker startup parse complete"), (6.0, "workspace run-1 cloned from the project")]
    spent = phases_of_task("prepare_workspace", 0.0, 7.5, events)
    assert spent["task start-up"] == 3.0 and spent["workspace, DVC start-up and restores"] == 4.5
    assert spent["the task's own stage"] == spent["lock, push, task end"] == 0.0


def test_tasks_that_ran_at_once_cover_the_run_once():
    # evaluate and keywords in parallel after train: 40 s of tasks in 30 s, 5 s with none running
    spans = [(0.0, 10.0), (15.0, 30.0), (15.0, 25.0), (30.0, 35.0)]
    assert covered_seconds(spans) == 30.0
    assert covered_seconds([]) == 0.0
