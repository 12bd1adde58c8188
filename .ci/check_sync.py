#!/usr/bin/env python3
"""Fail when `nbdev_export` or `nbdev_clean` would change anything: the library must match the notebooks
and the notebooks must be clean (nbdev's own CI rule). Compares file hashes before and after, so it also works
in a working tree with uncommitted changes."""
import hashlib, subprocess, sys
from pathlib import Path

def snapshot(*dirs):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in dirs for p in sorted(Path(d).rglob('*'))
            if p.is_file() and '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts}

before = snapshot('mrisr', 'nbs')
for cmd in (['nbdev_export'], ['nbdev_clean']):
    subprocess.run([str(Path(sys.executable).parent / cmd[0])], check=True)
after = snapshot('mrisr', 'nbs')
changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
if changed:
    print('nbdev_export/nbdev_clean changed these files (library out of sync with the notebooks, or notebooks '
          'unclean). Run `make sync` and commit:\n  ' + '\n  '.join(changed))
    sys.exit(1)
print(f'notebooks and library in sync, notebooks clean ({len(after)} files checked)')
