from trm.seeding import run_seeds


def test_seeds_are_stable_distinct_and_seed_zero_is_valid():
    a, b = run_seeds(0), run_seeds(0)
    assert a == b
    values = [a.model_init, a.loader, a.exploration, a.torch_global]
    assert len(set(values)) == 4 and all(0 <= v < 2**32 for v in values)
    assert run_seeds(1) != a


def test_per_rank_streams():
    r0, r1 = run_seeds(5, rank=0), run_seeds(5, rank=1)
    assert r0.model_init == r1.model_init and r0.loader == r1.loader
    assert r0.exploration != r1.exploration and r0.torch_global != r1.torch_global


def test_known_value_does_not_drift():
    # Pinned: a change here silently changes every run made afterwards.
    import numpy as np

    expected = int(np.random.SeedSequence(entropy=0, spawn_key=(0,)).generate_state(1)[0])
    assert run_seeds(0).model_init == expected


def test_loader_takes_the_run_seed_as_the_official_loader_does():
    assert [run_seeds(s).loader for s in (0, 1, 7)] == [0, 1, 7]
