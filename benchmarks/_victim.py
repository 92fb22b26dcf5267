"""What several benchmarks time: one natural victim of a profile, trained without the cache."""
from __future__ import annotations

import time


def natural_victim(profile: str, epochs: int, seed: int) -> dict:
    """Train the profile's victim (``epochs``; 0: the profile's) on its natural training subset
    (data seed 0), caching nothing: its training seconds, clean test accuracy and epochs."""
    from cgan_lib.data import load_dataset
    from cgan_lib.profiles import get_profile
    from cgan_lib.victim import TrainSettings, train_model
    p = get_profile(profile)
    p = p.replace(victim_epochs=epochs or p.victim_epochs)
    d = load_dataset(p.dataset).subset(p.n_train, p.n_test, 0)
    s = TrainSettings.victim(p, seed=seed)
    t = time.time()
    _, h = train_model(d.train_x, d.train_y, d.test_x, d.test_y, d.n_classes, s, False, curves=False)
    return {"seed": seed, "seconds": round(time.time() - t, 1),
            "final_test_acc": h["final_test_acc"], "epochs": p.victim_epochs}
