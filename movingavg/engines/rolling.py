"""Exact rolling sums with numpy: the vectorised kernel of the batch SMA and CMA.

``rolling_fsums(x, n)[i]`` is ``math.fsum(x[max(0, i - n + 1) : i + 1])`` (``x[: i + 1]``
when ``n`` is None) for every ``i``, bit for bit, in a few passes of numpy.

How. The values are split into *levels*: level 0 is each value rounded to a coarse grid
2**g0, level 1 the remainder rounded to a grid about 50 bits finer, and so on until
nothing is left (1 level for integers, 2 for most float data). The splitting is exact.
Per level the values are integers in grid steps (below 2**51); their cumulative sum in
64-bit integers (wrapping, for windows: the difference of two partial sums is exact
whenever the window sum fits) gives every window's sum exactly. The grids are chosen so
that window sums fit 63 bits surely and 51 bits (a float, exactly) likely: the size of
the window sums is estimated from the mean and spread of the data, and sums that turn
out larger are split into two floats. The level sums are then carried into
non-overlapping form and their total rounded once: ``fl(s0 + s1)`` is the correctly
rounded total whenever there are two parts, and for nearly every window otherwise; the
rest (within a hair of a rounding boundary) are settled on the parts below.

Data whose window sums could come near 2**1000, or spanning more than ``MAX_LEVELS``
parts (say 1e-60 next to 1e60), make it return None; callers then fall back to the
streaming engine.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_LEVELS", "rolling_fsums"]

MAX_LEVELS = 8
"""Most parts (levels, or halves of split levels) the exact sums may need."""
_SPLIT_BITS = 12  # int64 window sums of 2**51 or more become high * 2**12 + low
_FLOAT_BITS = 53
_MIN_EXPONENT = -1074  # the grid of the subnormals: every float is a multiple of it
_BELOW_ONE = 1.0 - 2.0**-53  # maps a power of two to its predecessor, anything else to itself

Array = NDArray[np.float64]


def rolling_fsums(x: Array, n: int | None) -> Array | None:
    """Return the correctly rounded sum of each window of ``x``, or None (see module doc).

    ``x`` is a 1-D float64 array of finite values; ``n`` a positive window size, or None for
    the expanding window of the cumulative average. Works in place, in two arrays the size
    of ``x`` plus about one per level (memory is what costs most here).
    """
    size = x.size
    if size == 0:
        return np.zeros(0)
    largest = max(-float(x.min()), float(x.max()))
    if largest == 0.0:
        return np.zeros(size)
    window = None if n is None or n >= size else n
    count_bits = (size if window is None else window).bit_length()
    top = math.frexp(largest)[1]  # |x| < 2**top, so |window sum| < 2**(top + count_bits)
    if top + count_bits > 1000:
        return None
    # A level's grid steps are below 2**(53 - headroom). With headroom >= count_bits - 10 a
    # window's sum of them is below 2**63: exact in int64. It converts to a float exactly
    # below 2**51, which count_bits + 2 guarantees; in between, the likely size of the
    # window sums decides (larger ones are split in two floats, exactly but slower).
    low_bits, high_bits = max(2, count_bits - 10), count_bits + 2
    headroom = _likely_headroom(x, top, window, low_bits, high_bits)
    noise = math.isqrt(size if window is None else window).bit_length() + 4
    rest = np.empty_like(x)  # what the levels so far leave
    level = np.empty_like(x)  # the level's part, its integer steps, their window sums
    source = x
    grids: list[int] = []
    sums: list[Array] = []
    while True:
        if len(grids) >= MAX_LEVELS:
            return None
        grid = max(top + headroom - _FLOAT_BITS, _MIN_EXPONENT)
        shift = math.ldexp(1.5, grid + 52)  # (v + shift) - shift rounds v to the grid
        np.add(source, shift, out=level)
        level -= shift
        np.subtract(source, level, out=rest)  # exact (in place from the second level on)
        _scale(level, -grid, level)  # integers below 2**51: exact
        steps = level.view(np.int64)
        np.copyto(steps, level, casting="unsafe")
        done = not rest.any()
        if window is None:  # the cumulative sums are the window sums
            out = level
            np.cumsum(steps, out=steps)
        else:
            out = rest if done else np.empty_like(x)
            _differences(steps, window, out.view(np.int64))
        for part_grid, part in _to_floats(out, grid):
            grids.append(part_grid)
            sums.append(part)
        if done:
            break
        if window is None:
            level = np.empty_like(x)
        # the remainder is at most half a grid step, and looks like noise: its window sums
        # grow like sqrt(n)
        source, top = rest, grid - 1
        headroom = max(low_bits, min(high_bits, noise))
    if len(sums) <= 2:  # one level, or one rounding of the exact sum of two
        return sums[0] if len(sums) == 1 else np.add(sums[0], sums[1], out=sums[0])
    scratch = level if window is not None else rest  # free now
    _normalise(sums, grids, scratch)
    return _round_total(sums, grids, scratch)


def _likely_headroom(x: Array, top: int, window: int | None, low: int, high: int) -> int:
    """Headroom (in [low, high]) that likely keeps level 0's window sums below 2**51 steps.

    Estimates the largest window sum as drift plus six standard deviations of a random
    walk: ``n * |mean| + 6 * std * sqrt(n)`` (n = len(x) for the cumulative average).
    """
    size = x.size
    count = size if window is None else window
    with np.errstate(over="ignore"):
        mean = float(x.sum()) / size
        square_mean = float(np.dot(x, x)) / size
    if not math.isfinite(square_mean) or not math.isfinite(mean):
        return high
    spread = math.sqrt(max(square_mean - mean * mean, 0.0) * count)
    estimate = count * abs(mean) + 6.0 * spread
    # 2**(grid + 51) = 2**(top + headroom - 2) should exceed twice the estimate
    needed = math.frexp(2.0 * estimate)[1] - top + 2 if estimate > 0 else low
    return max(low, min(high, needed))


def _to_floats(sums: Array, grid: int) -> list[tuple[int, Array]]:
    """Turn int64 window sums (held in ``sums``' memory) times 2**grid into exact floats.

    Below 2**51 in magnitude they convert exactly, in place: one part. Otherwise they are
    split into ``high * 2**(grid + 12) + low * 2**grid`` with ``0 <= low < 2**12``: two.
    """
    ints = sums.view(np.int64)
    if max(-int(ints.min()), int(ints.max())) < 1 << 51:
        np.copyto(sums, ints, casting="unsafe")
        _scale(sums, grid, sums)
        return [(grid, sums)]
    high = np.right_shift(ints, _SPLIT_BITS)  # floor division: |high| < 2**51
    np.bitwise_and(ints, (1 << _SPLIT_BITS) - 1, out=ints)  # the remainder, >= 0
    high_floats = high.view(np.float64)
    np.copyto(high_floats, high, casting="unsafe")
    _scale(high_floats, grid + _SPLIT_BITS, high_floats)
    np.copyto(sums, ints, casting="unsafe")
    _scale(sums, grid, sums)
    return [(grid + _SPLIT_BITS, high_floats), (grid, sums)]


def _scale(values: Array, exponent: int, out: Array) -> None:
    """``out = values * 2**exponent``, exact unless it overflows or underflows."""
    if -1022 <= exponent <= 1023:
        np.multiply(values, math.ldexp(1.0, exponent), out=out)
    else:
        np.ldexp(values, exponent, out=out)


def _differences(steps: NDArray[np.int64], n: int, out: NDArray[np.int64]) -> None:
    """Write the sum of each window of ``steps`` into ``out`` (``steps`` is overwritten).

    The cumulative sum runs in uint64 and wraps modulo 2**64, but the difference of two
    partial sums is the window sum modulo 2**64: exact, as |window sum| < 2**51.
    """
    cumulated, differences = steps.view(np.uint64), out.view(np.uint64)
    np.cumsum(cumulated, out=cumulated)
    differences[:n] = cumulated[:n]
    np.subtract(cumulated[n:], cumulated[:-n], out=differences[n:])


def _normalise(sums: list[Array], grids: list[int], scratch: Array) -> None:
    """Carry each level's multiples of the grid above into that level (exact, in place).

    Afterwards level l (l >= 1) is at most half a grid step of level l - 1, so the levels
    below l add up to less than one grid step of level l: they can only break ties.
    """
    for level in range(len(sums) - 1, 0, -1):
        shift = math.ldexp(1.5, grids[level - 1] + 52)
        np.add(sums[level], shift, out=scratch)
        scratch -= shift
        sums[level] -= scratch
        sums[level - 1] += scratch


def _round_total(sums: list[Array], grids: list[int], scratch: Array) -> Array:
    """The correctly rounded total of three or more normalised levels, per window."""
    # The levels below 1 add less than delta = 2**grids[1], so wherever s0 + s1 + delta and
    # s0 + s1 - delta round alike (rounding is monotonic), that is the answer.
    delta = math.ldexp(1.0, grids[1])
    total, below = scratch, np.empty_like(scratch)
    np.add(sums[1], delta, out=total)  # exact
    total += sums[0]
    np.subtract(sums[1], delta, out=below)
    below += sums[0]
    index = np.flatnonzero(total != below)
    # Elsewhere, level by level: a + b is the exact total of the levels so far and head
    # = fl(a + b). Either a + b is a float (head, exactly: go one level down) or it lies
    # within delta of halfway between two floats: then only an exact tie can round away
    # from head, and the sign of the levels below decides it.
    a, b = sums[0][index], sums[1][index]
    head = a + b
    total[index] = head
    for level in range(1, len(sums) - 1):
        low = _two_sum_low(a, b, head)
        inexact = low != 0.0
        if inexact.any():
            _break_ties(total, sums, level, index[inexact], head[inexact], low[inexact])
        exact = ~inexact
        index, a = index[exact], head[exact]
        if not index.size:
            break
        b = sums[level + 1][index]
        head = a + b
        total[index] = head
        if level + 2 < len(sums):  # more levels below: keep the windows they might change
            delta = math.ldexp(1.0, grids[level + 1])
            unsure = (a + (b + delta)) != (a + (b - delta))
            index, a, b, head = index[unsure], a[unsure], b[unsure], head[unsure]
    return total


def _two_sum_low(a: Array, b: Array, total: Array) -> Array:
    """The exact rounding error of ``total = fl(a + b)`` (Knuth's TwoSum)."""
    b_part = total - a
    return (a - (total - b_part)) + (b - b_part)


def _break_ties(
    total: Array, sums: list[Array], level: int, index: NDArray[np.intp], head: Array, low: Array
) -> None:
    """Settle windows whose exact total is ``head + low`` plus the levels below ``level``.

    ``low`` is at most half the gap to the float on its side and a multiple of 2**grid; the
    levels below add less than 2**grid. So only an exact tie (``2 * |low|`` equal to that
    gap) can round away from ``head``: it does when the levels below have the sign of low.
    """
    away_from_zero = (low > 0.0) == (head > 0.0)
    magnitude = np.abs(head)
    gap = np.where(away_from_zero, np.spacing(magnitude), np.spacing(magnitude * _BELOW_ONE))
    tie = np.abs(low) * 2.0 == gap
    index, head, low = index[tie], head[tie], low[tie]
    sign = np.zeros(index.size)
    for deeper in range(len(sums) - 1, level, -1):  # the first nonzero level decides
        part = sums[deeper][index]
        sign = np.where(part != 0.0, np.sign(part), sign)
    away = sign * low > 0.0
    total[index[away]] = head[away] + 2.0 * low[away]
