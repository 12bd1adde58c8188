#!/usr/bin/env python3
"""Build the rendered documentation: an HTML site of the notebooks *with their outputs* in `_docs/` (`make docs`).

1. **Execute** every notebook (found by glob at build time: `nbs/*.ipynb` in number order, then `nbs/paper/`,
   `nbs/benchmarks/`, then any other sub-folder) with the test runner's semantics (`.ci/test_notebooks.py`):
   one fresh interpreter per notebook, `IN_TEST=1` smoke settings, the notebook's folder as working directory,
   cells flagged with a `tst_flags` flag (`slow`, `gpu`) or `#| eval: false` not run. Executed copies go to
   `build/docs/exec/` (never back into `nbs/`), cached by the SHA-256 of the notebook and of `mrisr/*.py`
   (`--force` re-executes). A notebook that fails is reported with its traceback, rendered up to the failing
   cell with a warning at the top, and the build goes on; the exit code is 1 at the end if any failed.
   A notebook that raises `unittest.SkipTest` (no `../shared/data`) is rendered up to there, with the reason.
2. **Convert** for display, honouring nbdev's directives: `#| hide`, `#| default_exp`, `#| include: false`
   cells are left out; `#| echo: false`/`#| hide_input` show only the output; `#| output: false`/`#| hide_output`
   only the code; `#| export` cells are shown as code; the `#|` lines themselves are removed. Carriage returns in
   streams (tqdm bars) are collapsed as a terminal would show them.
3. **Render** with Sphinx + MyST-NB (`nb_execution_mode = "off"`: the outputs of step 1 are used as they are) and
   the sphinx-book-theme, README.md as the index page, the notebooks in a navigation in notebook order.

Why Sphinx + MyST-NB: nbdev's own renderer is Quarto, which cannot be installed offline (the PyPI `quarto-cli`
package downloads its binary at build time). Sphinx with MyST-NB is the engine of Jupyter Book 1, maintained by the
Executable Books project, pure Python, installs from PyPI alone, renders notebook outputs (PNG figures, HTML and
Markdown tables, streams, tracebacks), MyST Markdown (the `$...$` maths of the notebooks) and gives a navigation
sidebar, previous/next links and full-text search for free. sphinx-book-theme is the Jupyter Book theme, made for
notebooks. MathJax is served from the site itself (sphinx-mathjax-offline), so the equations render with no network.
Executing with execnb (as the test runner does) instead of MyST-NB's own executor keeps one set of semantics for
what runs (`tst_flags`, `SkipTest`) and lets a failing notebook still be rendered.

Usage: `.venv/bin/python .ci/build_docs.py [--force] [--workers N] [--no-exec] [NOTEBOOK ...]`
(with notebooks named, only those are executed; the site still includes all, from the cache where present)."""
import argparse, hashlib, json, os, re, shutil, subprocess, sys, time, unittest
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, OUT = ROOT/'nbs', ROOT/'_docs'
BUILD = ROOT/'build'/'docs'
EXEC, SRC = BUILD/'exec', BUILD/'src'
SECTIONS = {'': 'Library notebooks', 'paper': 'Paper: figures and tables', 'benchmarks': 'Benchmarks'}

# ---------------------------------------------------------------------------------------------------- discovery
def natural_key(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', p.name)]

def discover(nbs: Path = NBS) -> list[Path]:
    "Notebooks in navigation order: `nbs/*.ipynb` by number, then `paper/`, `benchmarks/`, then other folders."
    ok = lambda f: not f.name.startswith(('_', '.')) and '.ipynb_checkpoints' not in f.parts
    top = sorted((f for f in nbs.glob('*.ipynb') if ok(f)), key=natural_key)
    subs = sorted({f.parent for f in nbs.rglob('*.ipynb') if ok(f) and f.parent != nbs},
                  key=lambda d: (list(SECTIONS).index(d.name) if d.name in SECTIONS else 99, str(d)))
    return top + [f for d in subs for f in sorted((g for g in d.glob('*.ipynb') if ok(g)), key=natural_key)]

def section_of(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else ''

# ---------------------------------------------------------------------------------------------------- execution
def lib_hash() -> str:
    h = hashlib.sha256()
    for f in sorted((ROOT/'mrisr').rglob('*.py')): h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()

EXEC_VERSION = '2'  # bump when execute_one changes what it writes

def cache_key(fn: Path, lib: str, skip: list[str]) -> str:
    return hashlib.sha256(fn.read_bytes() + lib.encode() + ' '.join(skip).encode() + EXEC_VERSION.encode()).hexdigest()

_TERM = re.compile(r'(\r|\n|\x1b\[A|\x1b\[K)')

def _clean_stream(text: str) -> str:
    "What a terminal would show in the end: carriage returns, cursor-up and clear-line applied (tqdm's bars)."
    lines, row, col = [''], 0, 0
    for tok in _TERM.split(text):
        if tok == '\n':
            row, col = row + 1, 0
            if row == len(lines): lines.append('')
        elif tok == '\r': col = 0
        elif tok == '\x1b[A': row = max(0, row - 1)
        elif tok == '\x1b[K': lines[row] = lines[row][:col]
        elif tok:
            l = lines[row].ljust(col)
            lines[row], col = l[:col] + tok + l[col + len(tok):], col + len(tok)
    return '\n'.join(l.rstrip() for l in lines)

def _plain(o):
    "execnb's AttrDicts/lists -> plain JSON types."
    if isinstance(o, dict): return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)): return [_plain(v) for v in o]
    return o

def execute_one(fn: Path, dest: Path, skip_flags: list[str], threads: int, key: str) -> dict:
    "Child process: run `fn` as the test runner does, write the executed copy to `dest`, return its status."
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), IN_TEST='1',
                      MPLBACKEND='Agg', PYTHONWARNINGS='ignore')
    from nbdev.process import NBProcessor, extract_directives
    from nbdev.frontmatter import FrontmatterProc
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    fm = getattr(NBProcessor(fn, procs=FrontmatterProc, process=True).nb, 'frontmatter_', {})
    nb = read_nb(fn)
    states = {}  # cell index -> 'ran' | 'flag:<f>' | 'noeval' ; absent: not reached
    for i, c in enumerate(nb.cells):
        c.idx_, c.orig_source = i, c.source
        c.directives_ = extract_directives(c, remove=True) if c.cell_type == 'code' else {}
    def no_eval(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: states[cell.idx_] = 'noeval'; return True
        direc = cell.directives_ or {}
        if direc.get('eval:', [''])[0].lower() == 'false': states[cell.idx_] = 'noeval'; return True
        flags = sorted(set(skip_flags) & direc.keys())
        if flags: states[cell.idx_] = 'flag:' + flags[0]; return True
        states[cell.idx_] = 'ran'
        return False
    status, msg, fail_idx, start = 'passed', '', None, time.time()
    if str(fm.get('skip_exec', False)).lower() in ('true', '1'): status, msg = 'not executed', 'skip_exec in frontmatter'
    else:
        shell = CaptureShell(fn)
        try:
            with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=no_eval)
        except BaseException as e:
            fail_idx = max((i for i, s in states.items() if s == 'ran'), default=None)
            if isinstance(e, unittest.SkipTest) or type(e).__name__ == 'SkipTest': status, msg = 'skipped', str(e)
            else: status, msg = 'failed', shell.prettytb(fname=fn)
    secs = time.time() - start
    cells = []
    for i, c in enumerate(nb.cells):
        d = dict(cell_type=c.cell_type, metadata=_plain(dict(c.get('metadata', {}))), source=c.orig_source)
        if c.cell_type == 'code':
            outs = []
            for o in _plain(list(c.get('outputs', []) or [])):
                if o.get('output_type') == 'error':
                    if status == 'skipped' and i == fail_idx: continue  # the reason is shown as a note instead
                    o['traceback'] = ''.join(o.get('traceback', [])).rstrip().splitlines()
                outs.append(o)
            d.update(outputs=outs, execution_count=None)
            d['metadata']['mrisr_docs'] = dict(state=states.get(i, 'not reached'),
                                               directives={k: v for k, v in (c.directives_ or {}).items()})
        if 'id' in c: d['id'] = c.id
        cells.append(d)
    res = dict(status=status, secs=secs, msg=msg, fail_idx=fail_idx, key=key,
               title=fm.get('title'), description=fm.get('description'))
    out = dict(cells=cells, metadata=dict(_plain(dict(nb.metadata)), mrisr_docs=res), nbformat=4, nbformat_minor=5)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix('.tmp')
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(dest)
    return res

def execute_isolated(fn: Path, dest: Path, skip: list[str], threads: int, key: str) -> dict:
    "Run one notebook in a fresh interpreter (IPython replaces `__main__`, so a process cannot be reused)."
    cmd = [sys.executable, __file__, '--one', str(fn), '--dest', str(dest), '--skip', ' '.join(skip),
           '--threads', str(threads), '--key', key]
    t0 = time.time()
    dest.unlink(missing_ok=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    if r.returncode == 0 and lines and lines[-1].startswith('{'): return json.loads(lines[-1])
    res = dict(status='failed', secs=time.time() - t0, fail_idx=None, key=key,
               msg=f'runner crashed (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}')
    # a page that says so, so that the site still has the notebook in its navigation
    title = fn.stem.replace('_', ' ')
    err = (r.stderr.strip().splitlines() or ['no output'])[-1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(dict(nbformat=4, nbformat_minor=5, metadata=dict(mrisr_docs=res), cells=[
        dict(cell_type='markdown', metadata={}, source=f'# {title}'),
        dict(cell_type='markdown', metadata={}, source=f'```text\n{err}\n```')])))
    return res

def stored(dest: Path):
    "The status that `execute_one` stored in an executed copy, or None."
    try: return json.loads(dest.read_text())['metadata']['mrisr_docs']
    except Exception: return None

# ---------------------------------------------------------------------------------------------------- display
_HIDE = {'hide', 'default_exp', 'hide_cell'}
_DIRECTIVE_LINE = re.compile(r'^\s*#\s*\|')

def _note(kind: str, text: str) -> dict:
    return dict(cell_type='markdown', metadata={}, source=f':::{{{kind}}}\n{text}\n:::')

def _directive_true(d: dict, name: str) -> bool:
    return name in d and (d[name] or ['true'])[0].lower() == 'true'

def _directive_false(d: dict, name: str) -> bool:
    return name in d and (d[name] or [''])[0].lower() == 'false'

def display_nb(nb: dict, rel: Path, rels: list[Path] = ()) -> dict:
    "An executed notebook (from `execute_one`) -> the notebook MyST-NB renders."
    meta = nb['metadata'].get('mrisr_docs', {})
    status, fail_idx, cells = meta.get('status'), meta.get('fail_idx'), []
    first_md = True
    for i, c in enumerate(nb['cells']):
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] == 'markdown':
            cells.append(dict(cell_type='markdown', metadata={}, source=link_notebooks(src, rels, rel.parent)))
            if first_md and src.lstrip().startswith('# '):  # after the title cell: the status notes
                if status == 'failed':
                    err = meta.get('msg', '').strip().splitlines()  # the exception's own line, not its last
                    err = [l for l in err if re.match(r'[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b', l)] or err
                    cells.append(_note('error', f'**This notebook failed when the documentation was built** '
                                       f'(`{err[-1] if err else "error"}`). '
                                       + ('Outputs stop at <a href="#failed-cell">the failing cell</a>, which shows '
                                          'the traceback.' if fail_idx is not None else
                                          'It could not be run; `make docs` printed the traceback.')))
                elif status == 'skipped':
                    cells.append(_note('warning', f'**Not fully executed for this page:** {meta.get("msg")}. '
                                       f'Outputs stop where the notebook skipped.'))
                elif status == 'not executed':
                    cells.append(_note('note', f'This notebook is not executed for the documentation '
                                       f'({meta.get("msg")}); it is shown without outputs.'))
            first_md = False
            continue
        if c['cell_type'] != 'code':
            continue
        dmeta = c.get('metadata', {}).get('mrisr_docs', {})
        direc, state = dmeta.get('directives', {}), dmeta.get('state')
        if (_HIDE & direc.keys()) or _directive_false(direc, 'include:'):
            if status == 'failed' and i == fail_idx:  # a hidden cell failed: show where and why all the same
                tb = '\n'.join(l for o in c.get('outputs', []) if o.get('output_type') == 'error'
                               for l in o.get('traceback', []))
                cells.append(_note('error', '<a id="failed-cell"></a>The notebook failed here, in a hidden cell, '
                                   f'when the documentation was built:\n\n```text\n{tb or meta.get("msg", "")}\n```'))
            continue
        lines = src.splitlines()
        k = 0
        while k < len(lines) and (_DIRECTIVE_LINE.match(lines[k]) or not lines[k].strip()): k += 1
        code = '\n'.join(lines[k:]).strip('\n')
        tags = []
        if _directive_false(direc, 'echo:') or 'hide_input' in direc: tags.append('remove-input')
        if _directive_false(direc, 'output:') or 'hide_output' in direc: tags.append('remove-output')
        if not code and not c.get('outputs'): continue
        if state and state.startswith('flag:'):
            flag = state.split(':', 1)[1]
            cells.append(dict(cell_type='markdown', metadata={},
                              source=f'<small><em>Not run for this page: the next cell is flagged <code>{flag}</code> '
                                     f'(run it in Jupyter{" or with <code>make test-slow</code>" if flag == "slow" else ""}).'
                                     f'</em></small>'))
        md = {'tags': tags} if tags else {}
        outs = []
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream':
                o = dict(o, text=_clean_stream(''.join(o['text']) if isinstance(o['text'], list) else o['text']))
                if not o['text'].strip(): continue
            outs.append(o)
        if status == 'failed' and i == fail_idx:
            cells.append(_note('error', '<a id="failed-cell"></a>The notebook failed at this cell when the '
                               'documentation was built; the cells after it were not run.'))
        cells.append(dict(cell_type='code', metadata=md, source=code, outputs=outs, execution_count=None))
        if status == 'skipped' and i == fail_idx:
            cells.append(_note('warning', f'The notebook stopped here for this page: {meta.get("msg")}'))
    for c in cells:
        if c['cell_type'] != 'code':
            c.pop('outputs', None); c.pop('execution_count', None)
    return dict(cells=cells, metadata={k: v for k, v in nb['metadata'].items() if k != 'mrisr_docs'},
                nbformat=4, nbformat_minor=4)

# ---------------------------------------------------------------------------------------------------- the site
CONF = '''# generated by .ci/build_docs.py: edit that script, not this file
project = {title!r}
author = {author!r}
copyright = {copyright!r}
release = version = {version!r}
extensions = ["myst_nb", "sphinx-mathjax-offline"]
nb_execution_mode = "off"               # executed by .ci/build_docs.py with the test runner's semantics
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
exclude_patterns = ["figures/*.md", "**/.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure"]
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["mrisr.css"]
html_title = {title!r}
html_last_updated_fmt = "%Y-%m-%d"
html_context = {{"default_mode": "light"}}  # figures are drawn on white
html_theme_options = {{
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "repository_url": {git_url!r},
    "use_repository_button": True,
    "use_download_button": True,
    "navigation_with_keys": False,
}}
'''

def link_notebooks(md: str, rels: list[Path], here: Path = Path('.')) -> str:
    "`` `nbs/05_data.ipynb` `` (a notebook named in code) -> a link to its page, relative to the page in `here`."
    names = {str(r) for r in rels}
    up = '../' * len(here.parts)
    def link(m):
        p = m.group(1)
        return f'[`nbs/{p}`]({up}{p})' if p in names else m.group(0)
    return re.sub(r'(?<!\[)`nbs/([\w./-]+?\.ipynb)`', link, md)

CSS = """/* generated by .ci/build_docs.py: a wider column for code and figures on wide screens */
.bd-page-width { max-width: 100rem; }
.bd-main .bd-content .bd-article-container { max-width: 64rem; }
"""

def _index_md(readme: str, rels: list[Path], built: str) -> str:
    "README.md -> index.md: notebook paths become links, a build note, the (hidden) navigation toctrees."
    names = {str(r) for r in rels}
    md = link_notebooks(readme, rels)
    md = re.sub(r'\]\(nbs/([\w./-]+?\.ipynb)\)', lambda m: f']({m.group(1)})' if m.group(1) in names else m.group(0), md)
    # links to files of figures/ (tables, CSV, provenance): copied into the site as they are (MyST's `path:` links)
    md = re.sub(r'(?<!!)(\[[^\]]*\])\((figures/[^)\s#]+)\)',
                lambda m: f'{m.group(1)}(path:{m.group(2)})' if (ROOT/m.group(2)).is_file() else m.group(0), md)
    lines = md.splitlines()
    h1 = next((i for i, l in enumerate(lines) if l.startswith('# ')), -1)
    note = (f'\n:::{{note}}\nThese pages show every notebook of `nbs/` **with its outputs**, as `make docs` built them '
            f'({built}). The notebooks ran under the test runner\'s smoke settings (`IN_TEST=1`: tiny models and few '
            f'steps, so the numbers in the outputs are not results); cells flagged `slow` or `gpu` were not run. '
            f'The paper-scale numbers are in the tables below and in `figures/`.\n:::\n')
    lines.insert(h1 + 1, note)
    toc = []
    for sec, caption in [(s, SECTIONS.get(s, s)) for s in dict.fromkeys(section_of(r) for r in rels)]:
        entries = '\n'.join(str(r.with_suffix('')) for r in rels if section_of(r) == sec)
        toc.append(f'\n```{{toctree}}\n:caption: {caption}\n:hidden:\n:maxdepth: 1\n\n{entries}\n```\n')
    return '\n'.join(lines) + '\n' + ''.join(toc)

def assemble(rels: list[Path], built: str):
    from nbdev.config import get_config
    cfg = get_config()
    if SRC.exists(): shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    (SRC/'conf.py').write_text(CONF.format(title=cfg.title, author=cfg.author, copyright=cfg.copyright,
                                            version=cfg.version, git_url=cfg.git_url))
    rels = [r for r in rels if (EXEC/r).exists()]
    (SRC/'_static').mkdir()
    (SRC/'_static'/'mrisr.css').write_text(CSS)
    (SRC/'index.md').write_text(_index_md((ROOT/'README.md').read_text(), rels, built))
    if (ROOT/'figures').is_dir(): shutil.copytree(ROOT/'figures', SRC/'figures')
    for rel in rels:
        ex, d = EXEC/rel, SRC/rel
        d.parent.mkdir(parents=True, exist_ok=True)
        d.write_text(json.dumps(display_nb(json.loads(ex.read_text()), rel, rels), indent=1))

def sphinx_build(manifest: dict) -> tuple[int, str]:
    "Sphinx into build/docs/html (MyST-NB writes its image files beside its output folder), then moved to _docs/."
    html, log = BUILD/'html', BUILD/'sphinx.log'
    if html.exists(): shutil.rmtree(html)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-d', str(BUILD/'doctrees'), str(SRC), str(html)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=BUILD)
    log.write_text(r.stdout + r.stderr)
    if r.returncode == 0:
        (html/'.nojekyll').touch()  # served as is by GitHub Pages (folders starting with _)
        (html/'_manifest.json').write_text(json.dumps(manifest, indent=1))
        if OUT.exists(): shutil.rmtree(OUT)
        shutil.move(str(html), str(OUT))
    return r.returncode, r.stderr

# ---------------------------------------------------------------------------------------------------- main
def git_rev() -> str:
    try:
        r = subprocess.run(['git', 'describe', '--always', '--dirty'], capture_output=True, text=True, cwd=ROOT)
        return r.stdout.strip() or 'unknown'
    except OSError: return 'unknown'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('paths', nargs='*', help='execute only these notebooks (default: all, cached ones reused)')
    p.add_argument('--force', action='store_true', help='re-execute even when the cached executed copy is current')
    p.add_argument('--no-exec', action='store_true', help='render what is in the cache, execute nothing')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--one', help=argparse.SUPPRESS)
    p.add_argument('--dest', help=argparse.SUPPRESS)
    p.add_argument('--skip', default='', help=argparse.SUPPRESS)
    p.add_argument('--threads', type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument('--key', default='', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:  # child: execute a single notebook, report as JSON on the last line
        print(json.dumps(execute_one(Path(a.one), Path(a.dest), a.skip.split(), a.threads, a.key)))
        return
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from nbdev.config import get_config
    skip = get_config().tst_flags.split()
    t0 = time.time()
    files = discover()
    rels = [f.relative_to(NBS) for f in files]
    wanted = {Path(x).resolve() for x in a.paths}
    lib = lib_hash()
    todo, results = [], {}
    for f, rel in zip(files, rels):
        key, dest = cache_key(f, lib, skip), EXEC/rel
        meta = stored(dest)
        fresh = bool(meta) and meta.get('key') == key
        if a.no_exec or (wanted and f.resolve() not in wanted) or (fresh and meta['status'] != 'failed' and not a.force):
            old = 'missing' if not meta else 'failed' if meta.get('status') == 'failed' else 'stale'
            results[rel] = dict(meta if fresh else dict(status=old, secs=0., msg=(meta or {}).get('msg', '')), cached=True)
        else: todo.append((f, rel, key))  # new, changed, failed last time (retried) or --force
    # stale executed copies of notebooks that no longer exist
    for old in EXEC.rglob('*.ipynb') if EXEC.exists() else []:
        if old.relative_to(EXEC) not in rels: old.unlink()
    threads = max(1, (os.cpu_count() or 1) // max(1, a.workers))
    print(f'docs: {len(files)} notebooks found, {len(todo)} to execute ({a.workers} at a time), '
          f'{len(files) - len(todo)} from the cache', flush=True)
    with ThreadPoolExecutor(max_workers=max(1, a.workers)) as ex:
        futs = {rel: ex.submit(execute_isolated, f, EXEC/rel, skip, threads, key) for f, rel, key in todo}
        for rel, fut in futs.items():
            try: results[rel] = fut.result()
            except BaseException as e: results[rel] = dict(status='failed', secs=0., msg=repr(e))
            r = results[rel]
            print(f'{r["status"].upper():12s} {str(rel):40s} {r["secs"]:7.1f}s'
                  + (f'  ({r["msg"]})' if r['status'] in ('skipped', 'not executed') else ''), flush=True)
            if r['status'] == 'failed': print(f'--- {rel} failed:\n{r.get("msg", "")}', file=sys.stderr, flush=True)
    t_exec = time.time() - t0
    built = f'commit {git_rev()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC'
    assemble(rels, built)
    manifest = dict(built=built, pages=[dict(notebook=f'nbs/{r}', page=str(r.with_suffix('.html')),
                                             status=results[r]['status']) for r in rels if (EXEC/r).exists()])
    rc, err = sphinx_build(manifest)
    n_warn = sum(1 for l in err.splitlines() if 'WARNING' in l or 'ERROR' in l)
    failed = [str(r) for r in rels if results[r]['status'] in ('failed', 'missing')]
    stale = [str(r) for r in rels if results[r]['status'] == 'stale']
    if stale: print(f'docs: rendered from an out-of-date executed copy (not re-executed): {", ".join(stale)}')
    print(f'docs: executed in {t_exec:.0f}s, rendered in {time.time() - t0 - t_exec:.0f}s; '
          f'sphinx {"ok" if rc == 0 else f"FAILED (exit {rc})"} with {n_warn} warnings (log: {BUILD/"sphinx.log"})')
    if rc != 0: print(err[-3000:], file=sys.stderr)
    counts = {s: sum(r['status'] == s for r in results.values()) for s in ('passed', 'failed', 'skipped')}
    print(f"docs: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
          + (f'; FAILED or missing: {", ".join(failed)}' if failed else '')
          + f'; open {OUT/"index.html"} ({time.time() - t0:.0f}s in all)')
    sys.exit(1 if (failed or rc != 0) else 0)

if __name__ == '__main__': main()
