#!/usr/bin/python3
"""Writes longtail_counts.txt: the literature's exponential long-tail counts,
computed the way LDAM-DRW's get_img_num_per_cls does (Python floats):
    int(n_max * (1 / IF) ** (i / (C - 1)))
One line per case: "n_max classes IF: n_0 n_1 ... n_{C-1}".
Run: python3 gen_longtail_counts.py > longtail_counts.txt
"""
cases = [(n, c, f) for n in (500, 5000) for c in (10, 100) for f in (1, 10, 50, 100, 200, 500)]
cases += [(1300, 1000, 256), (4980, 37, 3.7), (600, 2, 10)]
for n_max, classes, imb in cases:
    counts = [int(n_max * (1 / imb) ** (i / (classes - 1))) for i in range(classes)]
    print("%d %d %r: %s" % (n_max, classes, imb, " ".join(map(str, counts))))
