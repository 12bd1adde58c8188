#!/usr/bin/env python3
"""Run every notebook's tests (nbdev_test semantics: cells with a flag from settings.ini `tst_flags` are skipped
unless named in --flags) and print a closing `N passed, N failed, N skipped` line.

A notebook that raises `unittest.SkipTest` (e.g. `mrisr.core.sample_data_dir()` when `../shared/data` is absent)
counts as skipped, with its message printed, not as failed."""
import argparse, json, os, subprocess, sys, time, unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def run_one(fn, skip_flags, threads):
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), IN_TEST='1',
                      MPLBACKEND='Agg', PYTHONWARNINGS='ignore')
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    fn = Path(fn)
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    if str(getattr(nb, 'frontmatter_', {}).get('skip_exec', False)).lower() in ('true', '1'):
        return 'skipped', 0., 'skip_exec in frontmatter'
    def no_eval(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        direc = getattr(cell, 'directives_', {}) or {}
        if direc.get('eval:', [''])[0].lower() == 'false': return True
        return bool(set(skip_flags) & direc.keys())
    start = time.time()
    shell = CaptureShell(fn)
    try:
        with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=no_eval)
        return 'passed', time.time() - start, ''
    except unittest.SkipTest as e: return 'skipped', time.time() - start, str(e)
    except BaseException as e:
        if type(e).__name__ == 'SkipTest': return 'skipped', time.time() - start, str(e)
        return 'failed', time.time() - start, shell.prettytb(fname=fn)

def run_isolated(fn, skip_flags, threads):
    "Run one notebook in a fresh interpreter (IPython replaces `__main__`, so a process cannot be reused)."
    cmd = [sys.executable, __file__, '--one', str(fn), '--skip', ' '.join(skip_flags), '--threads', str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    if r.returncode == 0 and lines and lines[-1].startswith('{'): return tuple(json.loads(lines[-1]).values())
    return 'failed', 0., f'runner crashed (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('paths', nargs='*', help='notebooks to test (default: every notebook under nbs/)')
    p.add_argument('--flags', default='', help='space-separated tst_flags to run anyway (e.g. "slow")')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--one', help=argparse.SUPPRESS)
    p.add_argument('--skip', default='', help=argparse.SUPPRESS)
    p.add_argument('--threads', type=int, default=1, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:  # child: run a single notebook and report as JSON on the last line
        status, secs, msg = run_one(a.one, a.skip.split(), a.threads)
        print(json.dumps(dict(status=status, secs=secs, msg=msg)))
        return
    from nbdev.config import get_config
    cfg = get_config()
    skip = [f for f in cfg.tst_flags.split() if f not in a.flags.split()]
    files = [Path(f).absolute() for f in a.paths] or sorted(
        f.absolute() for f in Path(cfg.nbs_path).rglob('*.ipynb')
        if '.ipynb_checkpoints' not in f.parts and not f.name.startswith('_'))
    threads = max(1, (os.cpu_count() or 1) // max(1, a.workers))
    sys.path.insert(0, str(cfg.config_path))
    results = {}
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=a.workers) as ex:
        futs = {f: ex.submit(run_isolated, f, skip, threads) for f in files}
        for f, fut in futs.items():
            try: status, secs, msg = fut.result()
            except BaseException as e: status, secs, msg = 'failed', 0., repr(e)
            results[f] = status
            rel = f.relative_to(Path(cfg.nbs_path).absolute())
            print(f'{status.upper():8s} {str(rel):40s} {secs:7.1f}s' + (f'  ({msg})' if status == 'skipped' else ''), flush=True)
            if status == 'failed': print(msg, file=sys.stderr, flush=True)
    n = {s: sum(v == s for v in results.values()) for s in ('passed', 'failed', 'skipped')}
    print(f'notebooks: {time.time() - t0:.0f}s total')
    print(f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped")
    sys.exit(1 if n['failed'] else 0)

if __name__ == '__main__': main()
