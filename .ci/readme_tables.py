#!/usr/bin/env python3
"""Copy the measured tables of `figures/table1.md` and `figures/table2.md` into README.md, between the markers
`<!-- BEGIN figures/tableN.md -->` and `<!-- END figures/tableN.md -->`, so the README shows the numbers of the last
`make reproduce` and never other ones. `make reproduce` runs it; `--check` (run by `make test`) fails when the README
holds anything else, i.e. when someone refreshed figures/ without the README or edited a number by hand."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ('figures/table1.md', 'figures/table2.md')

def measured_section(md:str, name:str) -> str:
    "The measured part of a generated table: its title, the preset note, the table and its footnote."
    lines = md.splitlines()
    try: end = next(i for i, l in enumerate(lines) if l.startswith('Mean over'))
    except StopIteration: raise SystemExit(f'{name}: no "Mean over ..." line after the measured table; is it a generated table?')
    title = lines[0].lstrip('# ').strip()
    return '\n'.join([f'**{title}** (from [`{name}`]({name}))', *lines[1:end + 1]])

def render(readme:str) -> str:
    for name in TABLES:
        begin, end = f'<!-- BEGIN {name} -->', f'<!-- END {name} -->'
        if readme.count(begin) != 1 or readme.count(end) != 1:
            raise SystemExit(f'README.md: expected one {begin} and one {end} marker')
        head, rest = readme.split(begin); _, tail = rest.split(end)
        body = measured_section((ROOT / name).read_text(), name)
        readme = f'{head}{begin}\n{body}\n{end}{tail}'
    return readme

if __name__ == '__main__':
    path = ROOT / 'README.md'
    old = path.read_text(); new = render(old)
    if '--check' in sys.argv[1:]:
        if new != old:
            raise SystemExit('README.md: its tables differ from figures/table1.md / table2.md; run `python .ci/readme_tables.py` '
                             '(make reproduce does) and commit')
        print('README tables match figures/')
    elif new != old:
        from mrisr.core import atomic_write      # the project's own atomic write (imports torch: only when writing)
        atomic_write(path, lambda f: f.write(new.encode()))
        print('README.md: tables updated from figures/')
