"""Choosing and configuring per-run cgroups, v1 and v2, on fake trees (the real v1 one is used by the red team)."""
from autograder.sandbox import cgroups


def _v2_tree(root, own, controllers="cpuset cpu io memory pids"):
    (root / own).mkdir(parents=True)
    (root / "cgroup.controllers").write_text(controllers)
    (root / "cgroup.procs").write_text("")
    return root / own


def test_v2_uses_a_folder_under_the_graders_own_group(tmp_path):
    own = _v2_tree(tmp_path, "system.slice/grader.scope")
    (own / cgroups.FOLDER).mkdir()
    (own / cgroups.FOLDER / "cgroup.controllers").write_text("cpu memory pids")
    support = cgroups.detect(tmp_path, "0::/system.slice/grader.scope\n")
    assert support.version == 2 and support.bases == {"": own / cgroups.FOLDER}
    assert (own / cgroups.FOLDER / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert not (own / "cgroup.subtree_control").exists(), "a group the grader did not create was written to"


def test_v2_without_delegated_controllers_says_what_to_do(tmp_path):
    _v2_tree(tmp_path, "user.slice")
    support = cgroups.detect(tmp_path, "0::/user.slice\n")
    assert support.version is None and "Delegate=yes" in support.reason
    assert set(support.missing) == {"memory", "pids", "cpu"}


def test_v2_run_group_writes_its_limits(tmp_path):
    base = tmp_path / cgroups.FOLDER
    base.mkdir()
    support = cgroups.Support(2, {"": base})
    original_mkdir = type(base).mkdir

    def mkdir_with_files(self, *a, **k):  # a real cgroup folder comes with its control files
        original_mkdir(self, *a, **k)
        for name in ("memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs"):
            (self / name).write_text("")
    type(base).mkdir = mkdir_with_files
    try:
        group = cgroups.RunGroup.create(support, 2**30, 32)
    finally:
        type(base).mkdir = original_mkdir
    run = group.dirs[""]
    assert run.parent == base
    assert (run / "memory.max").read_text() == str(2**30) and (run / "memory.swap.max").read_text() == "0"
    assert (run / "pids.max").read_text() == "32" and (run / "cpu.max").read_text() == "100000 100000"


def test_v1_prefers_the_graders_own_memory_group(tmp_path):
    for c in cgroups.V1_CONTROLLERS:
        (tmp_path / c).mkdir()
        (tmp_path / c / "cgroup.procs").write_text("")
    (tmp_path / "memory" / "job" / "42").mkdir(parents=True)
    support = cgroups.detect(tmp_path, "4:memory:/job/42\n3:pids:/\n2:cpu,cpuacct:/\n")
    assert support.version == 1
    assert support.bases["memory"] == tmp_path / "memory" / "job" / "42" / cgroups.FOLDER
    assert support.bases["pids"] == tmp_path / "pids" / cgroups.FOLDER
