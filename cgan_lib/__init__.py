"""cgan_lib: a runnable reproduction of ConfounderGAN (Tian et al., NeurIPS 2022).

The library behind the book: data, profiles, models, losses, Algorithm 1, baselines,
victim training, metrics, the artifact cache and the book runner.
"""
__version__ = "0.1.0"

PAPER = ("Qi Tian, Kun Kuang, Kelu Jiang, Furui Liu, Zhihua Wang, Fei Wu. ConfounderGAN: "
         "Protecting Image Data Privacy with Causal Confounder. NeurIPS 2022.")
