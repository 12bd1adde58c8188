#!/usr/bin/env python3
"""Copy the measured part of the generated tables in `figures/` into README.md, between the markers
`<!-- BEGIN figures/NAME.md -->` and `<!-- END figures/NAME.md -->`, so the README shows the numbers of the last
`make reproduce` and never other ones. `make reproduce` runs it; `--check` (run by `make test`) fails when the README
holds anything else, i.e. when someone refreshed figures/ without the README or edited a number by hand.

Table I and II must have their markers. The claims tables (`figures/claims.md` of the quick preset and
`figures/medium/claims.md` of the medium one) are copied and checked where the README has their markers."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# generated file -> (the line that closes its measured part starts with this, must the README show it?)
TABLES = {'figures/table1.md': ('Mean over', True), 'figures/table2.md': ('Mean over', True),
          'figures/claims.md': ('Each line compares', False), 'figures/medium/claims.md': ('Each line compares', False)}

def measured_section(md:str, name:str) -> str:
    "The measured part of a generated table: its title, the preset note, the table and its footnote."
    lines = md.splitlines()
    last = TABLES.get(name, ('Mean over', True))[0]
    try: end = next(i for i, l in enumerate(lines) if l.startswith(last))
    except StopIteration: raise SystemExit(f'{name}: no "{last} ..." line after the measured table; is it a generated table?')
    title = lines[0].lstrip('# ').strip()
    return '\n'.join([f'**{title}** (from [`{name}`]({name}))', *lines[1:end + 1]])

def render(readme:str) -> str:
    for name, (_, required) in TABLES.items():
        begin, end = f'<!-- BEGIN {name} -->', f'<!-- END {name} -->'
        if not required and readme.count(begin) == readme.count(end) == 0: continue   # not shown in the README
        if readme.count(begin) != 1 or readme.count(end) != 1:
            raise SystemExit(f'README.md: expected one {begin} and one {end} marker')
        if not (ROOT / name).is_file(): raise SystemExit(f'README.md shows {name}, which does not exist: run make reproduce')
        head, rest = readme.split(begin); _, tail = rest.split(end)
        body = measured_section((ROOT / name).read_text(), name)
        readme = f'{head}{begin}\n{body}\n{end}{tail}'
    return readme

if __name__ == '__main__':
    path = ROOT / 'README.md'
    old = path.read_text(); new = render(old)
    if '--check' in sys.argv[1:]:
        if new != old:
            raise SystemExit('README.md: its tables differ from figures/ (table1.md, table2.md, claims.md); run '
                             '`python .ci/readme_tables.py` (make reproduce does) and commit')
        print('README tables match figures/')
    elif new != old:
        from mrisr.core import atomic_write      # the project's own atomic write (imports torch: only when writing)
        atomic_write(path, lambda f: f.write(new.encode()))
        print('README.md: tables updated from figures/')
