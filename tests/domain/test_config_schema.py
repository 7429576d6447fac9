import pytest
from domain_helpers import REPO

from coral_dagster.domain.config import ConfigError, load_config, parse_config


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    config = load_config(path)
    assert config.population.size >= 2
    assert config.name == path.stem


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"population": {"sise": 4}}, "population.sise: unknown key"),
        ({"population": {"size": "four"}}, "population.size: Input should be a valid integer"),
        ({"weights": {"bugfix": 0.7}}, "weights: Value error, weights must sum to 1, got 1.1"),
        ({"genes": {"ranks": []}}, "genes.ranks: List should have at least 1 item"),
        ({"genes": {"target_modules": [[]]}}, "genes.target_modules: Value error, each"),
        (
            {"evolution": {"crossover_rate": -0.1}},
            "evolution.crossover_rate: Input should be greater than or equal to 0",
        ),
        (
            {"evolution": {"gate": {"step": -0.5}}},
            "evolution.gate.step: Input should be greater than or equal to 0",
        ),
        ({"population": {"rules": ["B9/S23"]}}, "population.rules"),
        ({"evolution": {"elite_count": 4}}, "elite_count (4) must be < population.size (4)"),
    ],
)
def test_bad_config_names_key_and_reason(data, problem):
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="bad.yaml")
    assert len(info.value.problems) == 1
    assert problem in info.value.problems[0]
    assert "bad.yaml" in str(info.value)


def test_every_problem_gets_its_own_line():
    data = {"seed": "x", "evolution": {"cell_mutation_rate": -1, "gate": {"step": 2}}, "oops": 1}
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    keys = sorted(p.split(":")[0] for p in info.value.problems)
    assert keys == ["evolution.cell_mutation_rate", "evolution.gate.step", "oops", "seed"]


def test_load_config_reports_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("population: [unclosed\n")
    with pytest.raises(ConfigError, match="<yaml>"):
        load_config(broken)
    typo = tmp_path / "typo.yaml"
    typo.write_text("population:\n  size: 4\n  desnity: 0.3\n")
    with pytest.raises(ConfigError) as info:
        load_config(typo)
    assert info.value.problems == ["population.desnity: unknown key"]


@pytest.mark.parametrize(
    ("sandbox", "problem"),
    [
        ({"timeout_seconds": float("inf")}, "sandbox.timeout_seconds: Input should be a finite"),
        ({"timeout_seconds": float("nan")}, "sandbox.timeout_seconds: Input should be a finite"),
        ({"startup_seconds": float("nan")}, "sandbox.startup_seconds: Input should be a finite"),
        ({"timeout_seconds": 0}, "sandbox.timeout_seconds: Input should be greater than 0"),
        ({"timeout_seconds": 1e9}, "sandbox.timeout_seconds: Input should be less than or equal"),
        ({"cpu_seconds": 0}, "sandbox.cpu_seconds: Input should be greater than or equal to 1"),
        ({"memory_mb": 1 << 40}, "sandbox.memory_mb: Input should be less than or equal"),
        ({"tmp_mb": 0}, "sandbox.tmp_mb: Input should be greater than or equal to 1"),
        ({"tmp_mb": 1 << 20}, "sandbox.tmp_mb: Input should be less than or equal"),
        ({"max_processes": 10**6}, "sandbox.max_processes: Input should be less than or equal"),
        ({"max_open_files": 1 << 30}, "sandbox.max_open_files: Input should be less than or equal"),
        ({"max_file_mb": -1}, "sandbox.max_file_mb: Input should be greater than or equal to 1"),
        ({"max_output_bytes": 1 << 40}, "sandbox.max_output_bytes: Input should be less than"),
        ({"workers": 0}, "sandbox.workers: Input should be greater than or equal to 1"),
        ({"uid_base": 0}, "sandbox.uid_base: Input should be greater than or equal to 1000"),
        ({"uid_base": 4294967294}, "sandbox.uid_base: Input should be less than or equal to"),
        ({"uid_base": 65000}, "sandbox: Value error, uid_base 65000: the sandbox uids"),
        ({"cpu_accounting": "proc"}, "sandbox.cpu_accounting: Input should be 'cgroup2' or"),
    ],
)
def test_sandbox_figures_are_bounded(sandbox, problem):
    with pytest.raises(ConfigError) as info:
        parse_config({"sandbox": sandbox})
    assert len(info.value.problems) == 1
    assert problem in info.value.problems[0]


def test_sandbox_yaml_infinity_is_refused_and_bounds_hold_at_the_edges(tmp_path):
    path = tmp_path / "inf.yaml"
    path.write_text("sandbox:\n  timeout_seconds: .inf\n  startup_seconds: .nan\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert sorted(p.split(":")[0] for p in info.value.problems) == [
        "sandbox.startup_seconds",
        "sandbox.timeout_seconds",
    ]
    top = parse_config({"sandbox": {"uid_base": 2**32 - 1 - 1000}}).sandbox
    assert top.uid_base + 999 == 2**32 - 2  # the last sandbox uid stays below (uid_t)-1
    assert parse_config({"sandbox": {"uid_base": 64534}}).sandbox.uid_base == 64534
