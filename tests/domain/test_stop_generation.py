"""``stop_generation``: the generation after which early stopping fires."""

from coral_dagster.domain.stopping import should_stop, stop_generation


def test_no_stop_while_improving():
    assert stop_generation([0.1, 0.2, 0.3, 0.4], patience=2, min_delta=0.0) is None


def test_stops_after_patience_generations_without_gain():
    # g0 0.5, g1 0.5, g2 0.5: after g2 two generations brought nothing.
    assert stop_generation([0.5, 0.5, 0.5, 0.9], patience=2, min_delta=0.0) == 2
    assert should_stop([0.5, 0.5, 0.5], 2, 0.0)
    assert not should_stop([0.5, 0.5], 2, 0.0)


def test_min_delta_counts_small_gains_as_none():
    assert stop_generation([0.5, 0.505, 0.509], patience=2, min_delta=0.01) == 2
    assert stop_generation([0.5, 0.505, 0.52], patience=2, min_delta=0.01) is None
