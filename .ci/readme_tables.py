#!/usr/bin/env python3
"""Copy the measured part of the generated tables in `figures/` into README.md, between the markers
`<!-- BEGIN figures/NAME.md -->` and `<!-- END figures/NAME.md -->`, so the README shows the numbers of the last
`make reproduce` and never other ones. `make reproduce` runs it; `--check` (run by `make test`) fails when the README
holds anything else, i.e. when someone refreshed figures/ without the README or edited a number by hand.

Table I and II must have their markers. The claims tables (`figures/claims.md` of the quick preset and
`figures/medium/claims.md` of the medium one) are copied and checked where the README has their markers.

The same mechanism keeps two other README excerpts true to the files they come from: the tested training recipe
(`<!-- BEGIN nbs/configs/quickstart_x2.yml -->`, shown as YAML) and the table of the pretrained models
(`<!-- BEGIN mrisr/weights -->`, built from the JSON model cards in `mrisr/weights/`)."""
import json, sys
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

def yaml_block(name:str) -> str:
    "A file of the repository as a fenced YAML block."
    return f"```yaml\n# {name}\n{(ROOT / name).read_text().rstrip()}\n```"

def zoo_table(name:str='mrisr/weights') -> str:
    "The pretrained models' held-out PSNR, model (bicubic) and difference, from their JSON cards."
    cards = [json.loads(p.read_text()) for p in sorted((ROOT / name).glob('*.json'))]
    if not cards: raise SystemExit(f'README.md shows {name}, which holds no model cards')
    sets = [m['set'] for m in cards[0]['metrics']]
    out = ['| model | scale | parameters | weights | ' + ' | '.join(sets) + ' |', '|' + '---|' * (4 + len(sets))]
    for c in cards:
        ms = {m['set']: m for m in c['metrics']}
        cells = [f"{ms[k]['model']['psnr']:.2f} ({ms[k]['bicubic']['psnr']:.2f}), "
                 f"{ms[k]['model']['psnr'] - ms[k]['bicubic']['psnr']:+.2f}" if k in ms else '–' for k in sets]
        out.append(f"| `{c['name']}` | ×{c['scale']} | {c['params'] / 1000:.0f}k | {c['size_bytes'] / 1024:.0f} KiB | "
                   + ' | '.join(cells) + ' |')
    subj = '; '.join(f"{m['set']}: {', '.join(m['subjects'])} ({m['slices']} slices)" for m in cards[0]['metrics'])
    return '\n'.join(out + ['', f'PSNR in dB of the model (of bicubic interpolation on the same LR slices), and the difference; '
                             f'from the model cards in [`{name}/`]({name}/). Held-out sets: {subj}.'])

INCLUDES = {'nbs/configs/quickstart_x2.yml': yaml_block, 'nbs/configs/quickstart_x4.yml': yaml_block, 'mrisr/weights': zoo_table}

def render(readme:str) -> str:
    for name, make in INCLUDES.items():
        begin, end = f'<!-- BEGIN {name} -->', f'<!-- END {name} -->'
        if readme.count(begin) == readme.count(end) == 0: continue
        if readme.count(begin) != 1 or readme.count(end) != 1:
            raise SystemExit(f'README.md: expected one {begin} and one {end} marker')
        head, rest = readme.split(begin); _, tail = rest.split(end)
        readme = f'{head}{begin}\n{make(name)}\n{end}{tail}'
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
            raise SystemExit('README.md: its tables differ from figures/ (table1.md, table2.md, claims.md), the recipe YAML or the model cards; run '
                             '`python .ci/readme_tables.py` (make reproduce does) and commit')
        print('README tables match figures/')
    elif new != old:
        from mrisr.core import atomic_write      # the project's own atomic write (imports torch: only when writing)
        atomic_write(path, lambda f: f.write(new.encode()))
        print('README.md: tables updated from figures/')
