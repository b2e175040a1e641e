"""The benchmark suite behind ``make bench`` (issue #6): ``python -m bench [--quick]``.

One module per figure group: :mod:`bench.write_path`, :mod:`bench.drain`,
:mod:`bench.latency`, :mod:`bench.peer`, :mod:`bench.backlog`; :mod:`bench.report`
turns the figures into ``bench/results/*.json``, a Markdown table and the README's
Performance section. Every benchmark works in a scratch database of its own.
"""
