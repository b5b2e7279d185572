"""cores.py - how much of a second core this machine gives right now.

A scaling figure is only as good as the cores under it: on a shared machine
the second core may be busy elsewhere while `uptime` here shows no load.
This times a fixed counting loop in one process, then in two at once, and
prints the speedup of the two (2.00x: two whole cores; 1.6x: the second
gives 60 %).  Run it next to a scaling benchmark and quote both.

  /usr/bin/python3 bench/cores.py [--rounds N]
"""

import argparse
import multiprocessing
import time

LOOP = 20_000_000


def spin(_=None):
    x = 0
    for i in range(LOOP):
        x += i
    return x


def timed(n):
    t = time.perf_counter()
    if n == 1:
        spin()
    else:
        with multiprocessing.Pool(n) as p:
            p.map(spin, range(n))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    for _ in range(a.rounds):
        one, two = timed(1), timed(2)
        print("one process %.3f s, two at once %.3f s: %.2fx of one core's work"
              % (one, two, 2 * one / two))


if __name__ == "__main__":
    main()
